"""pytest plugin: the model x mode x device axes, the session's services, and qbench's machine info.

Registered by the repository's root ``conftest.py`` (``pytest_plugins``), so it is active for this
project's test runs only and not in every pytest session of the environment it is installed in.

A test asks for ``qbench_model``, ``qbench_mode`` and/or ``qbench_device`` and is parametrized over the
selected ids in that order, giving ids like ``test_invoke[mnist_cnn-int8-xnnpack]``.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from qbench import config as qconfig
from qbench import machine, progress
from qbench.errors import NotApplicable, QbenchError
from qbench.interleaved import Interleaved
from qbench.pipeline import Session, open_session
from qbench.runtime import quiet
from qbench.session_run import capture, session_document
from qbench.warmup import Outcome

AXES = {"qbench_model": "models", "qbench_mode": "modes", "qbench_device": "devices"}  # fixture -> axis
SESSION = pytest.StashKey[Session]()
SELECTION = pytest.StashKey[dict]()
TIMING = pytest.StashKey["Interleaved"]()
WARMUP = pytest.StashKey[Outcome]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """One ``--qbench-NAME`` per declared option (qbench.config: the general ones, each dataset's and model's)."""
    group = parser.getgroup("qbench", "qbench: TFLite quantization benchmarks")
    qconfig.add_flags(group.addoption, qconfig.declared(), prefix="qbench-", dest_prefix="qbench_")


def _selection(session: Session) -> dict[str, list[str]]:
    return {fixture: session.select(axis, getattr(session.settings, axis)) for fixture, axis in AXES.items()}


def _terminal_sink(config: pytest.Config):
    capman = config.pluginmanager.getplugin("capturemanager")
    writer = config.get_terminal_writer()

    def sink(msg: str) -> None:
        with capman.global_and_fixture_disabled():
            writer.line(msg)

    return sink


@pytest.hookimpl(trylast=True)  # after pytest-benchmark created its session
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qbench_models(*ids): run this test for these models only (when selected)")
    config.addinivalue_line("markers", "qbench_unselected: no selected model is one the test is about (deselected)")
    if not hasattr(config, "workerinput") and config.pluginmanager.getplugin("capturemanager"):
        progress.set_sink(_terminal_sink(config))
    try:
        chosen = qconfig.parse(lambda option: config.getoption(f"qbench_{option.dest}"))
        if chosen.explain and chosen.bundle:
            raise QbenchError("--qbench-explain needs the build machine's cache; a bundle carries no explanations",
                              "explain on the build machine (`qbench explain MODEL MODE`), or drop --qbench-explain")
        if chosen.bundle:
            from qbench.bundle import open_bundle

            session = open_bundle(chosen.bundle, chosen)
        else:
            session = open_session(chosen)
        config.stash[SESSION] = session
        quiet.show(config.get_verbosity() > 0)  # LiteRT's load log: -v (or QBENCH_LITERT_LOG=1) shows it
        config.stash[SELECTION] = _selection(session)
        _check_sample_requirements(config, session)
    except QbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    if session.settings.store and not hasattr(config, "workerinput"):
        from qbench.store.session import check_store

        check_store(config)  # a bad URL or an unreachable server fails now, not after the benchmarks
    bench = getattr(config, "_benchmarksession", None)
    if bench is not None:  # autosaved runs of an x86 laptop and an (emulated) Pi must not share a folder
        bench.machine_id = machine.machine_id(bench.machine_id)
        if hasattr(bench.storage, "default_machine_id"):
            bench.storage.default_machine_id = bench.machine_id


def _check_sample_requirements(config: pytest.Config, session: Session) -> None:
    """--qbench-samples draws with matplotlib, and segmentation maps in cityscapesscripts' colours: build-stage
    packages that a run-stage install (a Pi with a bundle) lacks. Say so before the run, not after it."""
    if not session.settings.samples:
        return
    needed = ["matplotlib"]
    needed += [m for model in config.stash[SELECTION]["qbench_model"]
               for m in session.evaluator.task(model).sample_packages]
    if missing := [m for m in dict.fromkeys(needed) if importlib.util.find_spec(m) is None]:
        raise pytest.UsageError(
            f"--qbench-samples draws with {' and '.join(missing)}, which this environment lacks (a run-stage install)\n"
            "fix: pip install -r requirements/build.txt -c requirements/constraints.txt, "
            "or draw the samples on the build machine"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.set_sink(None)
    quiet.show(False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The selected ids of each axis a test asks for; ``@pytest.mark.qbench_models(ID, ...)`` narrows the models to
    those a test is about, and a test left with none of them is deselected (not skipped: nothing the user asked for
    was left out)."""
    chosen = metafunc.config.stash[SELECTION]
    only = metafunc.definition.get_closest_marker("qbench_models")
    for fixture in AXES:  # fixed order: model, mode, device
        if fixture in metafunc.fixturenames:
            ids = chosen[fixture]
            if fixture == "qbench_model" and only is not None:
                ids = [i for i in ids if i in only.args]
            params = ids or [pytest.param(None, marks=pytest.mark.qbench_unselected, id="none")]
            metafunc.parametrize(fixture, params, ids=str if ids else None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Load and check the data of every model the collected cases use (a dataset that cannot be read is one usage
    error before any case runs, not a failure per case), then build and evaluate what they need (qbench.warmup)."""
    unselected = [item for item in items if item.get_closest_marker("qbench_unselected")]
    if unselected:
        config.hook.pytest_deselected(items=unselected)
        items[:] = [item for item in items if not item.get_closest_marker("qbench_unselected")]
    session = config.stash[SESSION]
    if config.option.collectonly:
        return
    cases = []
    for item in items:
        params = _params(item)
        if "qbench_model" in params and "qbench_mode" in params:
            cases.append((params["qbench_model"], params["qbench_mode"], params.get("qbench_device")))
    try:
        for model_id in dict.fromkeys(c[0] for c in cases):
            session.artifacts.prepare(model_id)
        if cases and not hasattr(config, "workerinput"):  # build and evaluate on all cores, before any timing
            from qbench import warmup

            config.stash[WARMUP] = outcome = warmup.run(session, list(dict.fromkeys(cases)))
            warmup.refuse_failed(session, outcome)  # its cases fail with the worker's error, nothing is retried here
    except QbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TIMING] = Interleaved(session.artifacts, session.evaluator, _timing_groups(items),
                                       session.settings.passes)
    # One model at a time (each file's cases in their order within it), so that a model's data is loaded once
    # and released before the next model's cases are measured (pytest_runtest_teardown).
    order = {model_id: rank for rank, model_id in enumerate(dict.fromkeys(c[0] for c in cases))}
    items.sort(key=lambda item: order.get(_model_of(item), -1))
    session.release(keep=_model_of(items[0]) if items else None)  # prepare() loaded every model's evaluation set


def _timing_groups(items: list[pytest.Item]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(model, device) -> the (mode, device) cases whose latency is timed together (qbench.timing), in collection
    order; a device with a ``peer`` is timed in its peer's group (qbench.interleaved)."""
    from qbench.interleaved import group_device

    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for item in items:
        params = _params(item)
        if "qbench_timing" in getattr(item, "fixturenames", ()) and {"qbench_model", "qbench_mode",
                                                                      "qbench_device"} <= set(params):
            case = (params["qbench_mode"], params["qbench_device"])
            cases = groups.setdefault((params["qbench_model"], group_device(case[1])), [])
            if case not in cases:
                cases.append(case)
    return groups


def _params(item: pytest.Item | None) -> dict:
    return item.callspec.params if item is not None and hasattr(item, "callspec") else {}


def _model_of(item: pytest.Item | None) -> str | None:
    return _params(item).get("qbench_model")


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    session = item.config.stash.get(SESSION, None)
    if session is not None and nextitem is not None and _model_of(item) != _model_of(nextitem):
        session.release(keep=_model_of(nextitem))


@pytest.fixture(scope="session")
def qbench(pytestconfig: pytest.Config) -> Session:
    """The qbench session: its artifacts (cache, backends), evaluator (runners, tasks), results and catalog."""
    return pytestconfig.stash[SESSION]


@pytest.fixture(scope="session")
def qbench_timing(pytestconfig: pytest.Config) -> Interleaved:
    """The session's interleaved latency timings: each group of cases is timed together (qbench.timing)."""
    return pytestconfig.stash[TIMING]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    # a mode or device that cannot apply to this model, a GPU / NPU LiteRT finds no trace of: skipped, with why
    if isinstance(error, NotApplicable):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {error.problem}")
    elif isinstance(error, QbenchError):
        report.longrepr = f"qbench: {error}"  # the problem and its fix, not a traceback
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash[SESSION]
    info = machine.describe()
    return [
        f"qbench: cache {session.cache.root}; {info['arch']} {info['cpu_model']} ({info['cores']} cores)"
        + (f", emulated by {info['emulated']}" if info["emulated"] else ""),
    ]


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["qbench"] = machine.describe()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    capture(config, output_json)  # the --benchmark-json document: what the store and the summary read


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest-benchmark's own sessionfinish has written --benchmark-json (a hook wrapper, run first)."""
    if session.config.getoption("--qbench-store") and not hasattr(session.config, "workerinput"):
        from qbench.store.session import store_session

        store_session(session)


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables: the answer is the last thing on the screen
def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    if session.settings.store and not hasattr(config, "workerinput"):
        from qbench.store.session import summary

        terminalreporter.write_line(summary(config))
    if (out := session.settings.samples) and not hasattr(config, "workerinput"):
        from qbench.samples import write_run_samples

        chosen = config.stash[SELECTION]
        written = write_run_samples(session, chosen["qbench_model"], chosen["qbench_mode"],
                                    chosen["qbench_device"][0], out)
        terminalreporter.write_line(f"qbench: wrote {len(written)} sample image(s) to {out}")
    if not hasattr(config, "workerinput"):
        for line in _answer(config):
            terminalreporter.write_line(line)
    # Evaluations are cached entries too, but a warm cache of models with a new device or eval limit still
    # evaluates: count them apart so "0 artifact(s) built" keeps meaning "no model was converted or trained".
    warm = config.stash.get(WARMUP, Outcome())
    entries = session.built() + warm.built
    evaluated = sum(entry.startswith("eval/") for entry in entries)
    built = len(entries) - evaluated
    tf = "imported" if "tensorflow" in sys.modules or warm.tensorflow else "not imported"
    terminalreporter.write_line(
        f"qbench: {built} artifact(s) built and {evaluated} evaluation(s) run this session, "
        f"TensorFlow {tf}; cache {session.cache.root}"
    )


def _answer(config: pytest.Config) -> list[str]:
    """The verdict per model x device (qbench.report.summary), from the session's own run document."""
    doc, _ = session_document(config)
    if doc is None:
        return []
    from qbench.report.load import parse_run
    from qbench.report.summary import lines

    try:
        return lines(parse_run(doc, config.rootpath / "this session"))
    except QbenchError as exc:
        if not any("qbench_schema" in (b.get("extra_info") or {}) for b in doc.get("benchmarks", [])):
            return []  # no qbench case was timed (another suite's benchmarks)
        # qbench's own cases that the report cannot read: say so rather than leave the answer out unexplained
        return [f"qbench: no summary: {exc.problem}" + (f" (fix: {exc.fix})" if exc.fix else "")]
