"""The forum questions the report answers, one module each, registered by name.

Each module in this package defines its question with ``@question(...)`` on an
``answer(ctx)`` function: the question in the project's words, the runs it needs
(an experiment, and the agents and environments that experiment must include),
and the function that turns the computed results into a sentence with its numbers.
Every module here is imported on first use (as ``agents`` does), so adding a
question is adding a file; a question whose runs are not in the plan is skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext
    from bench.pipeline.plan import Plan

Answer = Callable[["QuestionContext"], "str | None"]


@dataclass(frozen=True)
class Question:
    """A question, the runs it needs, and how to answer it from the results."""

    name: str
    text: str
    experiment: str
    agents: tuple[str, ...]
    envs: tuple[str, ...]
    answer: Answer
    order: int = 100

    def planned(self, plan: "Plan") -> bool:
        """True when ``plan`` runs the experiment with every needed agent and environment."""
        spec = plan.experiments.get(self.experiment)
        if spec is None:
            return False
        return set(self.agents) <= set(spec["agents"]) and set(self.envs) <= set(spec["envs"])


_REGISTRY: dict[str, Question] = {}
_DISCOVERED = False


def question(name: str, text: str, experiment: str, agents: tuple[str, ...] = (), envs: tuple[str, ...] = (),
             order: int = 100) -> Callable[[Answer], Answer]:
    """Decorator: register ``answer`` as the answer to question ``name``."""

    def decorate(answer: Answer) -> Answer:
        if name in _REGISTRY and _REGISTRY[name].answer is not answer:
            raise ValueError(f"question {name!r} is registered twice")
        _REGISTRY[name] = Question(name, text, experiment, tuple(agents), tuple(envs), answer, order)
        return answer

    return decorate


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    _DISCOVERED = True


def questions() -> list[Question]:
    """Every registered question, in report order (``order``, then name)."""
    _discover()
    return sorted(_REGISTRY.values(), key=lambda q: (q.order, q.name))
