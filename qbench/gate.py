"""``qbench gate``: fail when a current run regresses against a baseline run.

Quality may not drop beyond a per-metric tolerance and model files may not grow. Latency is gated as the
ratio to float32 on the same device within each run, which holds when the two runs come from machines of
different speed. Raw times are compared (Mann-Whitney U plus a minimum shift, as asv does) only between
runs on the same CPU, both native or both emulated: anything else measures the machines, not the change.
"""

from __future__ import annotations

import configparser
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from statistics import median

from scipy.stats import mannwhitneyu

from qbench import verdict
from qbench.config.options import Option
from qbench.errors import QbenchError
from qbench.modes import reference_of
from qbench.report.load import GATED_METRICS, Case, CaseKey, Run, case_sort_key, short_cpu
from qbench.sources import load_run
from qbench.report.tables import markdown_table

RAW_CHOICES = ("auto", "require", "off")
_WHERE_TO_SET = "set it under [qbench:gate] in pytest.ini, [tool.qbench.gate] in pyproject.toml, or on the command line"


@dataclass(frozen=True)
class GateConfig:
    accuracy_tol: float = 0.002  # largest allowed absolute drop
    pixel_accuracy_tol: float = 0.005
    miou_tol: float = 0.005
    snr_db_tol: float = 3.0  # fidelity: largest allowed drop of the worst output's SNR against float32, in dB
    size_tol: float = 0.0  # largest allowed relative growth of the model file
    latency_ratio_tol: float = 0.25  # largest allowed relative growth of (mode latency / float32 latency)
    raw: str = "auto"  # raw-sample test: auto = when comparable, require = error when not, off
    raw_alpha: float = 0.002  # Mann-Whitney U p-value below which a shift is significant
    raw_min_shift: float = 0.10  # ... and the median must be at least this much slower to fail
    fail_on_missing: bool = False  # fail when a baseline case is missing from the current run

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise QbenchError(f"gate setting {f.name} = {value!r} must be a number >= 0", _WHERE_TO_SET)
        if self.raw not in RAW_CHOICES:
            raise QbenchError(f"gate setting raw = {self.raw!r} must be one of {', '.join(RAW_CHOICES)}", _WHERE_TO_SET)
        if not 0 < self.raw_alpha < 1:
            raise QbenchError(f"gate setting raw_alpha = {self.raw_alpha!r} must lie between 0 and 1", _WHERE_TO_SET)
        if not isinstance(self.fail_on_missing, bool):
            raise QbenchError(f"gate setting fail_on_missing = {self.fail_on_missing!r} must be true or false",
                              _WHERE_TO_SET)

    @classmethod
    def from_ini(cls, rootdir: Path) -> GateConfig:
        """Defaults, then ``[tool.qbench.gate]`` of pyproject.toml, then ``[qbench:gate]`` of pytest.ini."""
        values: dict[str, object] = {}
        pyproject, ini = Path(rootdir) / "pyproject.toml", Path(rootdir) / "pytest.ini"
        if pyproject.is_file():
            try:
                doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise QbenchError(f"{pyproject} is not valid TOML: {e}", "fix the file's syntax") from None
            section = doc.get("tool", {}).get("qbench", {}).get("gate", {})
            if not isinstance(section, dict):
                raise QbenchError(f"{pyproject}: tool.qbench.gate is not a table", "write it as [tool.qbench.gate]")
            values |= {_key(k, pyproject): _coerce(k, v, pyproject) for k, v in section.items()}
        if ini.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(ini, encoding="utf-8")
            except configparser.Error as e:
                raise QbenchError(f"cannot parse {ini}: {e}", "fix the file's syntax") from None
            if parser.has_section("qbench:gate"):
                values |= {_key(k, ini): _coerce(k, v, ini) for k, v in parser.items("qbench:gate")}
        return cls(**values)

    def with_overrides(self, **overrides) -> GateConfig:
        """Command-line values on top; ``None`` means "not given"."""
        given = {_key(k, "command line"): _coerce(k, v, "command line") for k, v in overrides.items() if v is not None}
        return replace(self, **given)

    def tolerance(self, metric: str) -> float:
        return getattr(self, GATED_METRICS[metric])

    def describe(self) -> str:
        quality = ", ".join(f"{m} may drop <= {self.tolerance(m):g}" for m in GATED_METRICS)
        return (f"{quality} (absolute); model size may grow <= {self.size_tol:.0%}; latency / float32 on the same "
                f"device may grow <= {self.latency_ratio_tol:.0%}; raw latency ({self.raw}): fails when Mann-Whitney "
                f"p < {self.raw_alpha:g} and slower by >= {self.raw_min_shift:.0%}")


#: What each threshold means, for the command line (the same names as in pytest.ini / pyproject.toml).
_HELP = {
    "accuracy_tol": "largest allowed absolute accuracy drop (default 0.002)",
    "pixel_accuracy_tol": "largest allowed absolute pixel-accuracy drop (default 0.005)",
    "miou_tol": "largest allowed absolute mIoU drop (default 0.005)",
    "snr_db_tol": "largest allowed drop of a fidelity model's worst output SNR, in dB (default 3)",
    "size_tol": "largest allowed relative growth of a model file (default 0)",
    "latency_ratio_tol": "largest allowed growth of a mode's latency / float32's on its device (default 0.25)",
    "raw": "raw-time Mann-Whitney test: auto (when comparable), require, off",
    "raw_alpha": "Mann-Whitney p-value below which a raw-time shift is significant (default 0.002)",
    "raw_min_shift": "... and the smallest shift that fails (default 0.10)",
    "fail_on_missing": "fail when a baseline case is missing from the current run",
}
#: The gate's thresholds declared as options, like every other setting (``qbench.config.add_flags`` makes the CLI
#: flags; the ini and TOML sections use the same names).
GATE_OPTIONS = tuple(
    Option(f.name.replace("_", "-"), _HELP[f.name], metavar=None if f.type in ("bool", "str") else "X",
           flag=f.type == "bool", choices=RAW_CHOICES if f.name == "raw" else None)
    for f in fields(GateConfig))


def _key(name: str, where) -> str:
    key = name.strip().replace("-", "_")
    if key not in {f.name for f in fields(GateConfig)}:
        known = ", ".join(f.name for f in fields(GateConfig))
        raise QbenchError(f"{where}: unknown gate setting {name!r}", f"known settings: {known}")
    return key


def _coerce(name: str, value, where):
    """Ini files give strings, TOML and the CLI typed values; each becomes the field's type."""
    kind = type(getattr(GateConfig, _key(name, where)))
    text = str(value).strip().lower()
    if kind is bool and not isinstance(value, bool):
        if text not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise QbenchError(f"{where}: gate setting {name} = {value!r} must be true or false", _WHERE_TO_SET)
        return text in ("true", "yes", "1", "on")
    if kind is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise QbenchError(f"{where}: gate setting {name} = {value!r} is not a number", _WHERE_TO_SET) from None
    return text if kind is str else value


@dataclass(frozen=True)
class Failure:
    case: str  # "mnist_cnn int8 xnnpack"; size failures name the mode only
    rule: str  # the GateConfig setting that was exceeded
    detail: str

    def __str__(self) -> str:
        return f"{self.case}: {self.detail} [{self.rule}]"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    table: str  # readable whether or not the gate passed; the CLI prints it
    failures: list[Failure] = field(default_factory=list)
    only_in_baseline: list[CaseKey] = field(default_factory=list)
    only_in_current: list[CaseKey] = field(default_factory=list)
    raw_compared: bool = False


def gate(baseline: Path, current: Path, config: GateConfig | None = None) -> GateResult:
    config = config or GateConfig()
    base, cur = load_run(baseline), load_run(current)
    common = sorted(base.cases.keys() & cur.cases.keys(), key=case_sort_key)
    if not common:
        raise QbenchError(
            f"{baseline} and {current} have no model/mode/device case in common "
            f"(baseline: {_coverage(base)}; current: {_coverage(cur)})",
            "gate a run against a baseline of the same models, modes and devices",
        )
    raw, raw_note = _raw_plan(base, cur, common, config)
    failures: list[Failure] = []
    sections = []
    for model in dict.fromkeys(key[0] for key in common):
        keys = [k for k in common if k[0] == model]
        metrics = [m for m in GATED_METRICS if any(m in r.cases[k].quality for k in keys for r in (base, cur))]
        headers = ["Mode", "Device", *metrics, "Size (KiB)", "Latency / float32", "Raw latency", "Verdict"]
        rows = []
        for key in keys:
            cells, broken = _check(base, cur, key, metrics, config, raw)
            rows.append([key[1], key[2], *cells, "FAIL: " + ", ".join(f.rule for f in broken) if broken else "ok"])
            failures += broken
        sections += [f"## {model}", "", markdown_table(headers, rows), ""]
    only_base = sorted(base.cases.keys() - cur.cases.keys(), key=case_sort_key)
    only_cur = sorted(cur.cases.keys() - base.cases.keys(), key=case_sort_key)
    if config.fail_on_missing:
        failures += [Failure(" ".join(k), "fail_on_missing", "missing from the current run") for k in only_base]
    failures = list(dict.fromkeys(failures))  # a grown model file fails once, not once per device
    lines = [
        "# qbench gate", "",
        f"baseline: {base.path} - {base.machine.label}, {base.datetime[:19].replace('T', ' ')}",
        f"current:  {cur.path} - {cur.machine.label}, {cur.datetime[:19].replace('T', ' ')}",
        f"rules: {config.describe()}", "", *sections, raw_note,
    ]
    for title, keys in (("only in baseline", only_base), ("only in current", only_cur)):
        if keys:
            gated = "FAILED, fail_on_missing" if title == "only in baseline" and config.fail_on_missing else "not gated"
            lines.append(f"{title} ({gated}): {_group(keys)}")
    lines.append("")
    if failures:
        lines += [f"FAILED: {len(failures)} regression(s)", *(f"  - {f}" for f in failures)]
    else:
        lines.append(f"PASSED: {len(common)} case(s) within tolerance")
    return GateResult(not failures, "\n".join(lines), failures, only_base, only_cur, raw)


def _group(keys: list[CaseKey]) -> str:
    """'mnist_cnn builtin: float32, int8; ...': one entry per model and device rather than per case."""
    groups: dict[tuple[str, str], list[str]] = {}
    for model, mode, device in keys:
        groups.setdefault((model, device), []).append(mode)
    return "; ".join(f"{model} {device}: {', '.join(modes)}" for (model, device), modes in groups.items())


def _coverage(run: Run) -> str:
    return f"{', '.join(run.models)} ({len(run.cases)} cases)"


def _raw_plan(base: Run, cur: Run, common: list[CaseKey], config: GateConfig) -> tuple[bool, str]:
    """Whether raw samples are compared, and the line that says so."""
    if config.raw == "off":
        return False, "raw latency: not compared (raw = off)"
    b, c = base.machine, cur.machine
    if (b.kind, b.cpu_model, b.emulated_cpu) != (c.kind, c.cpu_model, c.emulated_cpu):
        if b.kind != c.kind:
            what = f"{b.kind} vs {c.kind}"
        elif b.label != c.label:
            what = f"{b.label} vs {c.label}"
        else:  # one emulated CPU on two different hosts
            what = f"{b.label} on hosts {short_cpu(b.cpu_model)} vs {short_cpu(c.cpu_model)}"
        if config.raw == "require":
            raise QbenchError(
                f"raw latency cannot be compared across machines ({what}): the difference would measure the "
                "machines, not the change",
                "compare raw latency only between runs on the same CPU, both native or both emulated; with "
                "raw = auto the gate still checks latency as the ratio to float32 on each machine",
            )
        return False, f"raw latency: not compared ({what}); latency is gated as the ratio to float32 only"
    if not any(base.cases[k].samples and cur.cases[k].samples for k in common):
        if config.raw == "require":
            raise QbenchError(
                "raw latency comparison was required but the runs hold no raw samples (stats.data)",
                "save runs with --benchmark-json=FILE, or with --benchmark-autosave --benchmark-save-data",
            )
        return False, "raw latency: not compared (no raw samples in both runs: save them with --benchmark-json)"
    return True, f"raw latency: compared, both runs on {b.label}"


def _check(base: Run, cur: Run, key: CaseKey, metrics: list[str], config: GateConfig,
           raw: bool) -> tuple[list[str], list[Failure]]:
    """The row's cells and the rules this case breaks."""
    b, c = base.cases[key], cur.cases[key]
    name = " ".join(key)
    cells, failures = [], []
    for metric in metrics:
        cell, failure = _quality(metric, b, c, config.tolerance(metric), name)
        cells.append(cell)
        failures += [failure] if failure else []
    results = [
        _size(b, c, config.size_tol),
        _ratio(base, cur, key, config.latency_ratio_tol, name),
        _raw(b, c, config, name) if raw else ("-", None),
    ]
    for cell, failure in results:
        cells.append(cell)
        failures += [failure] if failure else []
    return cells, failures


def _quality(metric: str, b: Case, c: Case, tol: float, name: str) -> tuple[str, Failure | None]:
    if metric not in b.quality:
        return ("-", None) if metric not in c.quality else (f"new {c.quality[metric]:.4f}", None)
    if metric not in c.quality:
        return "missing", Failure(name, GATED_METRICS[metric], f"{metric} is missing from the current run")
    bv, cv = b.quality[metric], c.quality[metric]
    cell = f"{bv:.4f} -> {cv:.4f} ({cv - bv:+.4f})"
    if round(bv - cv, 9) > tol:
        return cell, Failure(name, GATED_METRICS[metric],
                             f"{metric} dropped by {bv - cv:.4f} ({bv:.4f} -> {cv:.4f}); allowed drop {tol:g}")
    return cell, None


def _size(b: Case, c: Case, tol: float) -> tuple[str, Failure | None]:
    growth = c.model_bytes / b.model_bytes - 1
    cell = f"{b.model_bytes / 1024:.1f} -> {c.model_bytes / 1024:.1f} ({growth:+.1%})"
    if c.model_bytes > b.model_bytes * (1 + tol):
        return cell, Failure(f"{b.model} {b.mode}", "size_tol",
                             f"model file grew by {growth:+.2%} ({b.model_bytes} -> {c.model_bytes} bytes); "
                             f"allowed {tol:+.2%}")
    return cell, None


def _ratio(base: Run, cur: Run, key: CaseKey, tol: float, name: str) -> tuple[str, Failure | None]:
    """Latency relative to float32 on the same device: with both runs' interleaved intervals, it grew only when
    the current interval lies above the baseline's widened by ``tol`` (``verdict.regressed``); runs without
    intervals compare the ratio of medians."""
    model, mode, device = key
    reference = reference_of(mode)  # each framework's float32 (ONNX Runtime's modes: ort-float32)
    if mode == reference:
        return "(reference)", None
    refs = base.cases.get((model, reference, device)), cur.cases.get((model, reference, device))
    if None in refs:
        return f"no {reference} on {device}", None
    rb, rc = verdict.ratio(base.cases[key], refs[0]), verdict.ratio(cur.cases[key], refs[1])
    if rb is not None and rc is not None:
        cell = f"{rb} -> {rc}"
        if verdict.regressed(rb, rc, tol):
            return cell, Failure(name, "latency_ratio_tol",
                                 f"latency relative to {reference} on {device} grew from {rb} to {rc} (95 % "
                                 f"intervals): the current one lies above the baseline's by more than {tol:+.0%}")
        return cell, None
    br, cr = base.latency_ratio(key), cur.latency_ratio(key)
    cell = f"{br:.2f} -> {cr:.2f} ({cr / br - 1:+.0%}, no intervals)"
    if cr > br * (1 + tol):
        return cell, Failure(name, "latency_ratio_tol",
                             f"latency relative to {reference} on {device} grew by {cr / br - 1:+.0%} "
                             f"({br:.2f} -> {cr:.2f}); allowed {tol:+.0%}")
    return cell, None


def _raw(b: Case, c: Case, config: GateConfig, name: str) -> tuple[str, Failure | None]:
    """asv's rule: a change counts when it is both significant (U test) and large enough to matter."""
    if not (b.samples and c.samples):
        return "no samples", None
    shift = median(c.samples) / median(b.samples) - 1
    p = float(mannwhitneyu(b.samples, c.samples, alternative="two-sided").pvalue)
    cell = f"{shift:+.0%} (p={p:.1g})"
    if p < config.raw_alpha and shift >= config.raw_min_shift:
        return cell, Failure(name, "raw",
                             f"raw latency {shift:+.0%} (median {1e3 * median(b.samples):.4g} -> "
                             f"{1e3 * median(c.samples):.4g} ms), Mann-Whitney p={p:.1g} < {config.raw_alpha:g}; "
                             f"allowed shift {config.raw_min_shift:+.0%}")
    return cell, None
