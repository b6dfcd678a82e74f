"""Agent variants, registered by name.

Each variant is one module in this package that decorates its class with
``@register("name")``. Every module here is imported on first use, so adding a
variant is adding a file: no list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from agents.base import Agent

AgentFactory = Callable[[int, int], Agent]

_REGISTRY: dict[str, type[Agent]] = {}
_DISCOVERED = False
_PRIVATE_MODULES = {"base", "recurrence"}


class AgentImportError(RuntimeError):
    """An agent module failed to import; the message names the file."""


def register(name: str) -> Callable[[type[Agent]], type[Agent]]:
    """Class decorator: make an ``Agent`` subclass available under ``name``."""

    def decorate(cls: type[Agent]) -> type[Agent]:
        if not issubclass(cls, Agent):
            raise TypeError(f"agent {name!r}: {cls.__name__} is not a subclass of agents.base.Agent")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"agent name {name!r} is registered twice")
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return decorate


def unregister(name: str) -> None:
    """Remove a variant (tests use it to clean up deliberately broken agents)."""
    _REGISTRY.pop(name, None)


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name in _PRIVATE_MODULES or module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{module.name}")
        except Exception as error:  # any failure: name the file, keep the cause
            raise AgentImportError(
                f"agent file agents/{module.name}.py failed to import: "
                f"{type(error).__name__}: {error}"
            ) from error
    _DISCOVERED = True


def available() -> list[str]:
    """Names of all registered variants, sorted."""
    _discover()
    return sorted(_REGISTRY)


def agent_class(name: str) -> type[Agent]:
    """The class registered under ``name``; ``KeyError`` lists the valid names."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown agent {name!r}; valid choices: {', '.join(available())}") from None


def make_agent(name: str, obs_dim: int, hidden_size: int) -> Agent:
    """Build the variant ``name`` for observations of size ``obs_dim``."""
    return agent_class(name)(obs_dim, hidden_size)


def describe(name: str) -> str:
    """First line of the variant's docstring."""
    doc = agent_class(name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
