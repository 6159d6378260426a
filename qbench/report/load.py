"""Read saved pytest-benchmark JSON runs and check that they carry qbench's ``extra_info``.

Tables, figures and the gate all work on the typed records made here, so the JSON layout, its optional
keys and every way a file can be unusable are dealt with once, with a message that says what to do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qbench import tasks
from qbench.errors import QbenchError
from qbench.modes import MODES, REFERENCE_MODE, reference_of  # noqa: F401  (REFERENCE_MODE: read from here too)
from qbench.runtime import DEVICES

SCHEMA = 1
QUALITY_METRICS = tuple(tasks.all_metrics())  # every task's quality numbers; higher is better
#: The metrics ``qbench gate`` bounds between two runs, with the GateConfig field that bounds each.
GATED_METRICS = {k: m.gate_tol for k, m in tasks.all_metrics().items() if m.gate_tol}
#: Label-based quality in [0, 1]: what two machines must agree on within an absolute tolerance.
LABEL_METRICS = tuple(k for k, m in tasks.all_metrics().items() if m.gate_tol and m.percent)

CaseKey = tuple[str, str, str]  # (model, mode, device)

_RERUN = "re-run `pytest benchmarks/ --benchmark-json=RUN.json` (or --benchmark-autosave) from the qbench repo"


@dataclass(frozen=True)
class Machine:
    arch: str
    cpu_model: str  # the host's CPU, also under an emulator
    emulated: str | None  # the emulator's name, None when native
    emulated_cpu: str | None  # the CPU the emulator presents, when known
    node: str

    @property
    def label(self) -> str:
        cpu = short_cpu(self.emulated_cpu or self.cpu_model)
        return f"{self.arch} {cpu}" + (" (emulated)" if self.emulated else "")

    @property
    def kind(self) -> str:
        """What decides whether raw times are comparable: architecture and emulation."""
        return self.arch + (" emulated" if self.emulated else "")


@dataclass(frozen=True)
class Case:
    """One model x mode x device measurement of one run."""

    model: str
    task: str
    mode: str
    device: str
    model_bytes: int
    size_ratio: float | None
    quality: dict[str, float]  # the QUALITY_METRICS this entry has
    per_class_iou: dict[str, float | None]
    latency_median_s: float
    latency_p90_s: float | None
    fps: float
    init_s: float | None
    first_invoke_s: float | None
    samples: tuple[float, ...]  # raw per-invoke seconds of each round; empty unless saved
    info: dict = field(default_factory=dict, repr=False, compare=False)  # the whole extra_info

    @property
    def key(self) -> CaseKey:
        return (self.model, self.mode, self.device)

    @property
    def pass_medians(self) -> tuple[float, ...]:
        """Per-pass per-invoke medians of interleaved timing (``qbench.timing``); () for runs timed otherwise."""
        timing = self.info.get("timing")
        values = timing.get("pass_medians_s") if isinstance(timing, dict) else None
        if isinstance(values, list) and values and all(_is_number(v) and v > 0 for v in values):
            return tuple(float(v) for v in values)
        return ()

    @property
    def timing_group(self) -> str | None:
        """The interleaved timing group: cases of one group were timed in the same passes."""
        timing = self.info.get("timing")
        group = timing.get("group") if isinstance(timing, dict) else None
        return group if isinstance(group, str) else None

    @property
    def eval_samples(self) -> int | None:
        """How many evaluation samples the quality numbers come from (fewer under --qbench-eval-limit)."""
        value = self.info.get("eval_samples")
        return int(value) if _is_number(value) else None


@dataclass(frozen=True)
class Commit:
    """pytest-benchmark's ``commit_info``: the git commit of the checkout the run was made from."""

    id: str
    time: str | None  # ISO 8601, as git prints it
    dirty: bool

    @property
    def short(self) -> str:
        return self.id[:7] + ("+" if self.dirty else "")


@dataclass
class Run:
    path: Path  # the run file; for a run from a store, the file it was imported from
    machine: Machine
    label: str  # unique among the runs loaded together
    datetime: str
    versions: dict[str, str]
    cases: dict[CaseKey, Case]
    commit: Commit | None = None  # None when the run was not made from a git checkout

    @property
    def models(self) -> list[str]:
        return sorted({c.model for c in self.cases.values()})

    def latency_ratio(self, key: CaseKey) -> float | None:
        """Median latency relative to float32 (the mode's framework's) on the same device: comparable across machine
        speeds."""
        model, mode, device = key
        ref = self.cases.get((model, reference_of(mode), device))
        return self.cases[key].latency_median_s / ref.latency_median_s if ref else None


def short_cpu(name: str) -> str:
    """'Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz' -> 'Intel Xeon E5-2690 v4': labels must fit on a plot."""
    for noise in ("(R)", "(r)", "(TM)", "(tm)", " CPU", " Processor"):
        name = name.replace(noise, "")
    return " ".join(name.split("@")[0].split()) or "unknown CPU"


def order(values, known) -> list:
    """Known ids in their canonical order (float32 first, xnnpack first), then the rest sorted."""
    values = set(values)
    return [v for v in known if v in values] + sorted(values - set(known))


def case_sort_key(key: CaseKey) -> tuple:
    model, mode, device = key
    modes, devices = list(MODES), list(DEVICES)
    return (
        model,
        devices.index(device) if device in devices else len(devices), device,
        modes.index(mode) if mode in modes else len(modes), mode,
    )


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory (e.g. ``.benchmarks/``) stands for every ``*.json`` below it."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.rglob("*.json"))
            if not found:
                raise QbenchError(f"{path} holds no *.json run files", _RERUN)
            files += found
        else:
            files.append(path)
    if not files:
        raise QbenchError("no run files given", "pass one or more RUN.json files saved by pytest-benchmark")
    return files


def parse_run(doc: dict, path: Path) -> Run:
    """The run in a parsed pytest-benchmark document; ``path`` names it in errors and tables."""
    benchmarks = doc.get("benchmarks")
    if not isinstance(benchmarks, list) or not isinstance(doc.get("machine_info", {}), dict):
        raise QbenchError(f"{path} is not a pytest-benchmark run (no 'benchmarks' list)", _RERUN)
    if not benchmarks:
        raise QbenchError(f"{path} holds no benchmarks", f"the run measured nothing; {_RERUN}")
    ours = [b for b in benchmarks if isinstance(b, dict) and isinstance(b.get("extra_info"), dict)
            and "qbench_schema" in b["extra_info"]]
    if not ours:
        raise QbenchError(
            f"{path} holds {len(benchmarks)} benchmark(s) but none from qbench (no extra_info.qbench_schema): "
            "a plain pytest-benchmark run has no model, mode or device to report",
            _RERUN,
        )
    cases: dict[CaseKey, Case] = {}
    for bench in ours:
        case = _case(path, bench)
        if case.key in cases:
            raise QbenchError(f"{path} measures {'/'.join(case.key)} twice", "save each pytest run to its own file")
        cases[case.key] = case
    info = doc.get("machine_info", {})
    q = info.get("qbench") if isinstance(info.get("qbench"), dict) else {}
    extra = ours[0]["extra_info"]
    machine = _machine(info, q, extra)
    versions = q.get("versions") or extra.get("versions") or {}
    commit = doc.get("commit_info") if isinstance(doc.get("commit_info"), dict) else {}
    known = isinstance(commit.get("id"), str) and commit["id"] not in ("", "unversioned", "unknown")
    return Run(
        path=Path(path),
        machine=machine,
        label=machine.label,
        datetime=str(doc.get("datetime", "")),
        versions={str(k): str(v) for k, v in versions.items()} if isinstance(versions, dict) else {},
        cases=cases,
        commit=Commit(commit["id"], commit.get("time") if isinstance(commit.get("time"), str) else None,
                      commit.get("dirty") is True) if known else None,
    )


def read_document(path: Path) -> dict:
    """A run file's JSON object, or the error that says why it is not one (missing, empty, truncated)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QbenchError(f"{path} does not exist", "give the path of a RUN.json saved by pytest-benchmark") from None
    except (OSError, UnicodeDecodeError) as e:
        raise QbenchError(f"cannot read {path}: {e}", "give the path of a RUN.json saved by pytest-benchmark") from None
    if not text.strip():
        raise QbenchError(f"{path} is empty", f"the pytest run that wrote it probably crashed; {_RERUN}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise QbenchError(
            f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); is it truncated?",
            f"the pytest run that wrote it may have been interrupted; {_RERUN}",
        ) from None
    if not isinstance(doc, dict):
        raise QbenchError(f"{path} is not a pytest-benchmark run (top level is not an object)", _RERUN)
    return doc


def _machine(info: dict, q: dict, extra: dict) -> Machine:
    """qbench's own machine facts, falling back on pytest-benchmark's and then on the entries'."""
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    emulated = q.get("emulated", extra.get("emulated", False))
    if emulated is True:
        emulated = "emulated"
    return Machine(
        arch=str(q.get("arch") or extra.get("arch") or info.get("machine") or "unknown arch"),
        cpu_model=str(q.get("cpu_model") or cpu.get("brand_raw") or info.get("processor") or "unknown CPU"),
        emulated=str(emulated) if emulated else None,
        emulated_cpu=str(q["emulated_cpu"]) if emulated and q.get("emulated_cpu") else None,
        node=str(info.get("node") or ""),
    )


def _case(path: Path, bench: dict) -> Case:
    extra, stats = bench["extra_info"], bench.get("stats") if isinstance(bench.get("stats"), dict) else {}
    where = f"{path}: benchmark {bench.get('name', '?')!r}"

    def bad(problem: str) -> QbenchError:
        return QbenchError(f"{where}: {problem}", _RERUN)

    if extra["qbench_schema"] != SCHEMA:
        raise QbenchError(
            f"{where} has qbench_schema {extra['qbench_schema']!r}; this qbench reads schema {SCHEMA}",
            "report and gate with the qbench version that wrote the run",
        )

    def text(key: str) -> str:
        value = extra.get(key)
        if not isinstance(value, str) or not value:
            raise bad(f"extra_info.{key} is missing or not a string")
        return value

    def number(source: dict, key: str, required: bool = False, signed: bool = False) -> float | None:
        value = source.get(key)
        if not required and (value is None or (isinstance(value, float) and math.isnan(value))):
            return None  # absent, or NaN as Python's json writes an undefined metric
        if not _is_number(value) or not math.isfinite(value) or (value < 0 and not signed):
            raise bad(f"{key} is {'missing' if value is None else f'not a non-negative number ({value!r})'}")
        return float(value)

    samples = stats.get("data") or []
    if not isinstance(samples, list) or not all(_is_number(s) for s in samples):
        raise bad("stats.data is not a list of numbers")
    if not number(extra, "model_bytes", required=True):
        raise bad("extra_info.model_bytes is 0")
    median = number(extra, "latency_median_s") or number(stats, "median")
    if not median:
        raise bad("has neither extra_info.latency_median_s nor stats.median (> 0)")
    p90 = number(extra, "latency_p90_s")
    if p90 is None and samples:
        p90 = float(np.quantile(samples, 0.9))
    # an SNR below 0 dB (a mode whose error outweighs the signal: ORT's dynamic int8 of MediaPipe's face detector)
    # and a negative cosine are measurements, not damage
    quality = {m: v for m in QUALITY_METRICS if (v := number(extra, m, signed=True)) is not None}
    per_class = extra.get("per_class_iou") or {}
    if not isinstance(per_class, dict) or not all(_is_number(v) or v is None for v in per_class.values()):
        raise bad("extra_info.per_class_iou is not an object of numbers or nulls")
    return Case(
        model=text("model"),
        task=str(extra.get("task") or tasks.infer(quality)),
        mode=text("mode"),
        device=text("device"),
        model_bytes=int(extra["model_bytes"]),
        size_ratio=number(extra, "size_ratio"),
        quality=quality,
        per_class_iou={str(k): float(v) if v is not None and math.isfinite(v) else None for k, v in per_class.items()},
        latency_median_s=median,
        latency_p90_s=p90,
        fps=number(extra, "fps") or 1.0 / median,
        init_s=number(extra, "init_s"),
        first_invoke_s=number(extra, "first_invoke_s"),
        samples=tuple(float(s) for s in samples),
        info=extra,
    )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
