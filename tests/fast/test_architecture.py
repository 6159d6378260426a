"""The layering rules the README and ARCHITECTURE promise, checked on the source so a change cannot quietly undo them.

- No import cycles between qbench's modules, counting imports inside functions and under ``if TYPE_CHECKING`` (a
  lazy import hides a cycle from Python, not from a reader) and modules a string names to ``importlib``: data flows
  one way, dataset -> model -> .tflite -> runner -> measure -> report/store.
- Only ``qbench/runtime`` touches LiteRT's runtime APIs (Interpreter, CompiledModel).
- Only ``qbench/tasks`` branches on a task's name, only ``qbench/quantizers`` on a backend's.
- No extension point (dataset kind, model, backend, task, runtime) receives the whole session: their methods take
  the narrow contexts their modules declare.
- No module grows past ``MAX_LINES``.
- One constant names the reference mode; every test file a doc cites exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from paths import QBENCH, REPO


def _modules() -> dict[str, Path]:
    found = {}
    for path in QBENCH.rglob("*.py"):
        parts = path.relative_to(QBENCH.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """qbench modules ``name`` imports anywhere in its body (``if TYPE_CHECKING:`` blocks included), and modules a
    string literal names to ``importlib.import_module``."""
    tree = ast.parse(path.read_text())
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
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
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
    assert graph["qbench.pipeline.evaluator"] >= {"qbench.cache", "qbench.measure"}  # it sees real imports
    assert "qbench.models.base" in graph["qbench.pipeline.artifacts"]  # and TYPE_CHECKING ones
    assert "qbench.repair.layers" in graph["qbench.pipeline.inputs"]
    assert _cycles(graph) == []


def test_only_the_runtime_package_touches_litert_runtime_apis():
    pattern = re.compile(r"ai_edge_litert\.(interpreter|compiled_model)|\b(Interpreter|CompiledModel)\(")
    offenders = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
                 if "runtime" not in p.relative_to(QBENCH).parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


def test_only_the_backends_branch_on_a_backend_name():
    pattern = re.compile(r"\bbackend(_id|\.id)?\s*[!=]=\s*['\"]")
    offenders = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
                 if "quantizers" not in p.relative_to(QBENCH).parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


#: The extension points: a new entry of an axis subclasses one of these (or, for models, ModelSpec's subclasses).
EXTENSION_POINTS = {"DatasetKind", "ModelSpec", "DataFitted", "TrainedModel", "Backend", "Task", "Runner"}
WHOLE = re.compile(r"\b(ws|workspace|session|Workspace|Session|RunStage)\b")


def test_no_extension_point_method_takes_the_whole_session():
    """Every method of every class deriving from an extension point takes narrow inputs: no parameter is the
    session (by name or annotation), which is what let extension points reach into everything before."""
    offenders = []
    for path in QBENCH.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            bases = {ast.unparse(b).split(".")[-1] for b in cls.bases}
            if not (bases & EXTENSION_POINTS or cls.name in EXTENSION_POINTS):
                continue
            for fn in (n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
                for arg in fn.args.args + fn.args.kwonlyargs:
                    if WHOLE.search(arg.arg) or (arg.annotation is not None and WHOLE.search(ast.unparse(arg.annotation))):
                        offenders.append(f"{path.relative_to(QBENCH.parent)}: {cls.name}.{fn.name}({arg.arg})")
    assert offenders == []


MAX_LINES = 400


def test_no_module_is_over_the_line_budget():
    long = {str(p.relative_to(QBENCH.parent)): n for p in QBENCH.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these into modules of one concern each: {long}"


def test_only_the_task_registry_branches_on_a_task_name():
    pattern = re.compile(r"\btask(_id|\.id|\.name)?\s*[!=]=\s*['\"]\w")  # a named task, not '*'
    offenders = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
                 if "tasks" not in p.relative_to(QBENCH).parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


def test_every_test_file_the_docs_cite_exists():
    """A doc that cites a test as its proof must cite one that is there (a move into tiers left five stale)."""
    cited = re.compile(r"tests/[A-Za-z0-9_/]+\.(?:py|md)")
    docs = [REPO / "README.md", *(REPO / "docker").glob("*.md"), *QBENCH.rglob("*.py"), *(REPO / "tests").rglob("*.py")]
    missing = sorted({f"{path.relative_to(REPO)}: {ref}" for path in docs for ref in cited.findall(path.read_text())
                      if not (REPO / ref).exists()})
    assert not missing, missing


def test_the_reference_mode_is_named_once():
    """float32 is the mode every other is judged against; one constant (``qbench.modes.REFERENCE_MODE``) says so."""
    defined = [str(p.relative_to(QBENCH.parent)) for p in QBENCH.rglob("*.py")
               if re.search(r"^\w*(REFERENCE|BASELINE)\w*\s*=\s*['\"]float32['\"]", p.read_text(), re.M)]
    assert defined == ["qbench/modes.py"], defined
