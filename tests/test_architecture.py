"""The walls between the three rooms, and no import cycle anywhere (a static check of every import).

- ``agents/`` imports only torch, the standard library and itself;
- ``bench/learn`` (training) never imports the pipeline, the paper or the CLI;
- ``bench/envs`` imports only itself;
- ``bench/pipeline`` reads ``bench.learn.config`` (to validate run settings) and nothing else of training;
- ``bench/paper`` never imports torch, ``agents`` or training (it reads tables), except
  ``bench.learn.symptoms``, which reads a run's logged rows with pandas and imports nothing of torch,
  ``agents`` or the rest of training, so that a run's warnings and the report's count of them are one rule.

Every import counts, those inside functions included: a lazy import still ties the modules.
Only imports for type checkers (``if TYPE_CHECKING:``) are left out: they never run.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "agents")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every module ``path`` imports, top level or not: project modules resolved to the module
    (``from bench.learn import loss`` -> ``bench.learn.loss``), others to their top-level name."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            found.add(name if name.split(".")[0] in PACKAGES else name.split(".")[0])
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> imported modules), as a path, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if child not in graph:
                continue
            if state.get(child) == 1:
                return path[path.index(child):] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _in(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def forbidden(module: str, imported: str) -> str | None:
    """Why ``module`` may not import ``imported`` (None when it may)."""
    if _in(module, "agents"):
        if not (_in(imported, "agents") or imported == "torch" or imported in sys.stdlib_module_names
                or imported == "__future__"):
            return "agents/ imports only torch, the standard library and itself"
    if _in(module, "bench.learn") and any(_in(imported, r) for r in ("bench.pipeline", "bench.paper", "bench.cli",
                                                                       "bench.perf")):
        return "training never imports the pipeline, the paper or the CLI"
    if _in(module, "bench.envs") and _in(imported, "bench") and not _in(imported, "bench.envs"):
        return "environments import only themselves"
    if _in(module, "bench.pipeline") and (
            any(_in(imported, r) for r in ("bench.paper", "bench.cli", "bench.perf", "torch", "agents"))
            or (_in(imported, "bench.learn") and imported not in ("bench.learn", "bench.learn.config"))):
        return "the pipeline reads bench.learn.config only, never torch, agents or the paper"
    if module == "bench.learn.symptoms" and (imported == "torch" or _in(imported, "agents")
                                             or (_in(imported, "bench") and imported != "bench.learn")):
        return "the symptoms read logged rows: no torch, agents or other module of rpg-bench (the paper imports them)"
    if _in(module, "bench.paper") and (
            imported == "torch" or _in(imported, "agents")
            or (_in(imported, "bench.learn") and imported not in ("bench.learn", "bench.learn.config",
                                                                   "bench.learn.symptoms"))
            or any(_in(imported, r) for r in ("bench.cli", "bench.perf"))):
        return "the paper reads tables: never torch, agents or training"
    return None


def wall_violations(graph: dict[str, set[str]]) -> list[str]:
    return [f"{module} imports {imported}: {why}" for module, imports in sorted(graph.items())
            for imported in sorted(imports) if (why := forbidden(module, imported))]


def test_no_module_crosses_a_wall():
    assert wall_violations(import_graph()) == []


def test_there_is_no_import_cycle():
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("module, imported", [
    ("bench.paper.report", "torch"), ("bench.paper.analysis", "agents"), ("bench.paper.figures", "bench.learn.policy"),
    ("bench.learn.train", "bench.pipeline.plan"), ("bench.learn.loss", "bench.paper.stats"),
    ("agents.gru", "numpy"), ("agents.mlp", "bench.learn.heads"), ("bench.envs.tasks", "bench.learn.policy"),
    ("bench.pipeline.aggregate", "torch"), ("bench.pipeline.plan", "bench.paper.report"),
    ("bench.learn.symptoms", "torch"), ("bench.learn.symptoms", "bench.learn.loss"),
])
def test_each_wall_fails_when_crossed(module, imported):
    graph = import_graph()
    graph[module] = graph[module] | {imported}
    assert any(line.startswith(f"{module} imports {imported}:") for line in wall_violations(graph))


def test_a_cycle_is_found_when_one_is_added():
    graph = import_graph()
    graph["bench.learn.common"] = graph["bench.learn.common"] | {"bench.learn.train"}  # train imports common
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "bench.learn.train" in cycle


def test_relative_and_lazy_imports_are_seen():
    graph = import_graph()
    # bench.learn.train imports the seed batch inside a function (the torch backend).
    assert "bench.learn.seed_batch" in graph["bench.learn.train"]
    assert "bench.learn.counter_rng" in graph["bench.learn.seed_batch"]  # from bench.learn import counter_rng
