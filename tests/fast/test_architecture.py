"""The layering rules the README and ARCHITECTURE promise, checked on the source so a change cannot quietly undo them.

- No import cycles between qbench's modules, counting imports inside functions (a lazy import hides a cycle from
  Python, not from a reader): data flows one way, dataset -> model -> .tflite -> runner -> measure -> report/store.
- Only ``qbench/runtime`` touches LiteRT's runtime APIs (Interpreter, CompiledModel).
- Only ``qbench/tasks`` branches on a task's name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from paths import QBENCH


def _modules() -> dict[str, Path]:
    found = {}
    for path in QBENCH.rglob("*.py"):
        parts = path.relative_to(QBENCH.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """qbench modules ``name`` imports anywhere in its body, leaving out ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_lazy_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_qbench_has_no_import_cycles_even_through_imports_inside_functions():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["qbench.workspace"] >= {"qbench.cache", "qbench.measure"}  # the parser sees real imports
    assert _cycles(graph) == []


def test_only_the_runtime_package_touches_litert_runtime_apis():
    pattern = re.compile(r"ai_edge_litert\.(interpreter|compiled_model)|\b(Interpreter|CompiledModel)\(")
    offenders = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
                 if "runtime" not in p.relative_to(QBENCH).parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


def test_only_the_task_registry_branches_on_a_task_name():
    pattern = re.compile(r"\btask(_id|\.id|\.name)?\s*[!=]=\s*['\"]\w")  # a named task, not '*'
    offenders = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
                 if "tasks" not in p.relative_to(QBENCH).parts[:1] and pattern.search(p.read_text())]
    assert offenders == []
