"""Facts about the agent variants read from their source files, without importing them.

The paper side reads tables only and never imports torch or ``agents``; the
description and memory flag of a variant are read from ``agents/<name>.py`` with
``ast``: the class decorated with ``@register("<name>")``, the first line of its
docstring, and its ``has_memory`` class attribute (``agents/base.py``'s default
when the class does not set it).
"""

from __future__ import annotations

import ast
from pathlib import Path

from bench.provenance import REPO_ROOT

AGENTS_DIR = REPO_ROOT / "agents"


def _registered_class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    """The class decorated with ``@register(name)`` in a parsed module."""
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for decorator in node.decorator_list:
            if (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "register"
                    and decorator.args and isinstance(decorator.args[0], ast.Constant) and decorator.args[0].value == name):
                return node
    return None


def _class_constant(node: ast.ClassDef, attribute: str) -> object | None:
    """The literal value assigned to ``attribute`` in a class body (``x = v`` or ``x: T = v``), or None."""
    for statement in node.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target] if isinstance(statement, ast.AnnAssign) else []
        value = getattr(statement, "value", None)
        if any(getattr(t, "id", None) == attribute for t in targets) and isinstance(value, ast.Constant):
            return value.value
    return None


def _base_default(attribute: str, directory: Path) -> object | None:
    base = ast.parse((directory / "base.py").read_text())
    node = next((n for n in base.body if isinstance(n, ast.ClassDef) and n.name == "Agent"), None)
    return _class_constant(node, attribute) if node else None


def agent_facts(name: str, directory: Path = AGENTS_DIR) -> dict[str, str]:
    """``{"agent", "description", "memory"}`` of the variant ``name`` from ``directory/<name>.py``;
    ``description`` is "(source not found)" when no such registered class exists."""
    path = directory / f"{name}.py"
    node = _registered_class(ast.parse(path.read_text()), name) if path.exists() else None
    if node is None:
        return {"agent": name, "description": "(source not found)", "memory": "unknown"}
    doc = (ast.get_docstring(node) or "").strip()
    memory = _class_constant(node, "has_memory")
    if memory is None:
        memory = _base_default("has_memory", directory)
    return {"agent": name, "description": doc.splitlines()[0] if doc else "",
            "memory": "yes" if memory is True else "no" if memory is False else "unknown"}
