"""``qbench``: list the axes, pre-build the cache, explain a mode layer by layer, report and gate saved benchmark runs,
keep them in a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qbench import config, tasks
from qbench.config import BUILD
from qbench.data import DATASETS
from qbench.errors import NotApplicable, QbenchError
from qbench.modes import MODES
from qbench.pipeline import open_session
from qbench.runtime import DEVICES
from qbench.store import DEFAULT_STORE


def _settings(args: argparse.Namespace):
    return config.parse(lambda option: getattr(args, option.dest, None))


def cmd_list(args: argparse.Namespace) -> int:
    print("models:")
    from qbench.pipeline.catalog import Catalog

    for spec in Catalog.with_user_models(_settings(args).model).values():
        print(f"  {spec.id:<16} {spec.task:<15} {spec.description}")
    print("datasets (--qbench-model ...,dataset=KIND[:PATH]):")
    for kind in DATASETS.values():
        print(f"  {kind.id + (':PATH' if kind.takes_path else ''):<16} {kind.task:<15} {kind.description}")
    print("tasks:")
    for task in tasks.TASKS.values():
        print(f"  {task.id:<16} {task.description}")
    print("modes:")
    for mode in MODES.values():
        print(f"  {mode.id:<24} {mode.backend:<10} {mode.family:<6} {mode.description}")
    print("devices:")
    for device in DEVICES.values():
        print(f"  {device.id:<16} {device.description}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from qbench import warmup
    from qbench.bundle import write_bundle

    session = open_session(_settings(args))
    model_ids, mode_ids = (session.select(axis, getattr(session.settings, axis)) for axis in ("models", "modes"))
    for model_id in model_ids:
        session.artifacts.prepare(model_id)  # bad data: one error before anything is built
    # built in worker processes: a native crash costs its own mode, and the workers end with this command
    outcome = warmup.run(session, [(model, mode, None) for model in model_ids for mode in mode_ids])
    warmup.refuse_failed(session, outcome)
    failed = 0
    for model_id in model_ids:
        for mode_id in mode_ids:
            try:
                artifact = session.artifacts.tflite(model_id, mode_id)
            except NotApplicable as exc:
                print(f"{model_id:<16} {mode_id:<18} skipped: {exc.problem}")
                continue
            except QbenchError as exc:
                print(f"{model_id:<16} {mode_id:<18} FAILED: {exc.problem}")
                failed += 1
                continue
            print(f"{model_id:<16} {mode_id:<18} {artifact.bytes:>10} bytes  {artifact.path}")
    if failed:
        print(f"{failed} artifact(s) failed to build; no bundle written" if args.out else
              f"{failed} artifact(s) failed to build")
        return 1
    if args.out:
        print(f"bundle: {write_bundle(session, model_ids, mode_ids, args.out)}")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from qbench.models import regenerate

    chosen = _settings(args)
    if args.regenerate:
        for found in regenerate.regenerate(chosen, args.model_ids):
            quality = ", ".join(f"{k} {v:.4f}" for k, v in found.manifest["float32"]["quality"].items())
            print(f"{found.model_id}: wrote {found.path} ({found.manifest['bytes']} bytes, sha256 "
                  f"{found.sha256[:16]}); float32 on {found.manifest['float32']['device']}: {quality}")
        print("commit qbench/models/weights/ to ship them")
        return 0
    lines = regenerate.status(open_session(chosen), args.model_ids)
    print("\n".join(lines))
    return 0 if all(line.endswith(regenerate.MATCHES) for line in lines) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from qbench.gate import GateConfig
    from qbench.report import write_report

    result = write_report(args.runs, args.out, GateConfig.from_ini(Path.cwd()))  # trend figures draw the gate's limits
    print(result.markdown)
    print(f"wrote {len(result.figures)} figures, {result.index}")
    for reason in result.skipped:
        print(f"  skipped: {reason}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from qbench.repair.command import write
    from qbench.repair.explainer import Explainer

    session = open_session(_settings(args))
    model_id, mode_id = session.catalog.get(args.model_id).id, MODES.get(args.mode_id).id  # unknown ids: the error
    try:
        kept = session.artifacts.tflite(model_id, mode_id).manifest.get("kept_layers")
        written = write(Explainer(session.artifacts), kept, model_id, mode_id, args.out, args.device, args.samples,
                        args.top)
    except NotApplicable as exc:
        raise QbenchError(f"{model_id} {mode_id} does not exist: {exc.problem}", exc.fix) from None
    print(written.markdown)
    print(f"wrote {written.table}, {written.data} and {written.figure}")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from qbench.gate import GATE_OPTIONS, GateConfig, gate

    thresholds = GateConfig.from_ini(args.config_dir).with_overrides(
        **{option.dest: getattr(args, option.dest) for option in GATE_OPTIONS})
    result = gate(args.baseline, args.current, thresholds)
    print(result.table)
    return 0 if result.passed else 1


def cmd_consistency(args: argparse.Namespace) -> int:
    from qbench.consistency import compare

    result = compare(args.run_a, args.run_b)
    print(result.table)
    return 0 if result.passed else 1


def cmd_store(args: argparse.Namespace) -> int:
    from qbench.store import commands

    return commands.ACTIONS[args.action](args)


def settings_int(flag: str):
    from qbench.config import positive_int

    parse = positive_int(flag)

    def checked(text: str) -> int:
        try:
            return parse(text)
        except QbenchError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the models, modes and devices qbench knows (and yours, with --model)")
    config.add_flags(listing.add_argument, [o for o in config.for_stage(BUILD) if o.name == "model"])
    listing.set_defaults(func=cmd_list)

    build = sub.add_parser("build", help="train and convert every selected model x mode into the cache")
    config.add_flags(build.add_argument, config.for_stage(BUILD))  # the declarations the plugin's --qbench-* use
    build.add_argument("--out", metavar="DIR", help="also write a portable run-stage bundle there (Pi, run image)")
    build.set_defaults(func=cmd_build)

    weights = sub.add_parser("weights", help="do the shipped reference weights of the built-in models match their "
                             "training recipe? --regenerate trains and ships new ones (README: Reference weights)")
    weights.add_argument("model_ids", nargs="*", metavar="MODEL", help="built-in trained models (default: all)")
    weights.add_argument("--regenerate", action="store_true",
                         help="train from scratch on this machine and write qbench/models/weights/MODEL/")
    config.add_flags(weights.add_argument, [o for o in config.for_stage(BUILD) if o.dest in ("cache", "mnist")])
    weights.set_defaults(func=cmd_weights)

    report = sub.add_parser("report", help="tables, PNG figures and index.html from saved benchmark runs")
    report.add_argument("runs", nargs="+", help="--benchmark-json files, folders of them, or stores with a selector "
                        "(e.g. 'sqlite:///.benchmarks/qbench.db?machine=this&latest=5'; README: Results store)")
    report.add_argument("--out", type=Path, default=Path("qbench-report"), help="output folder")
    report.set_defaults(func=cmd_report)

    explain = sub.add_parser("explain", help="which layers of a quantized mode lose the most against float32: "
                             "a table of the worst, a figure per layer and the full table as JSON (README: Explain)")
    explain.add_argument("model_id", metavar="MODEL")
    explain.add_argument("mode_id", metavar="MODE")
    explain.add_argument("--device", default="builtin", help="kernels to compare on: builtin (default) or reference "
                         "(a delegate such as XNNPACK hides its intermediate tensors)")
    explain.add_argument("--out", type=Path, default=Path("qbench-report"),
                         help="report folder; files go to OUT/explain/ (default: qbench-report)")
    explain.add_argument("--samples", type=settings_int("--samples"), default=8,
                         help="compare on the first N evaluation samples (default 8)")
    explain.add_argument("--top", type=settings_int("--top"), default=5, help="worst layers in the table (default 5)")
    config.add_flags(explain.add_argument, [o for o in config.for_stage(BUILD) if o.dest not in ("models", "modes")])
    explain.set_defaults(func=cmd_explain, models=None, modes=None)

    gate = sub.add_parser("gate", help="exit 1 if CURRENT regresses against BASELINE (accuracy, size, latency)")
    gate.add_argument("baseline", help="a run file, or a store selecting one run (e.g. STORE?machine=this&latest=1)")
    gate.add_argument("current", help="a run file, or a store selecting one run")
    gate.add_argument("--config-dir", type=Path, default=Path.cwd(),
                      help="folder whose pytest.ini [qbench:gate] / pyproject.toml [tool.qbench.gate] set thresholds")
    from qbench.gate import GATE_OPTIONS

    config.add_flags(gate.add_argument, GATE_OPTIONS, unset=True)  # absent: pytest.ini / pyproject.toml decide
    gate.set_defaults(func=cmd_gate)

    consistency = sub.add_parser("consistency", help="exit 1 if two runs' models compute different things "
                                 "beyond what their kernels allow (e.g. x86_64 vs emulated arm64)")
    consistency.add_argument("run_a", help="a run file, or a store selecting one run")
    consistency.add_argument("run_b", help="a run file, or a store selecting one run")
    consistency.set_defaults(func=cmd_consistency)

    store = sub.add_parser("store", help="keep runs in a results store (SQLite file or PostgreSQL) and read them back")
    actions = store.add_subparsers(dest="action", required=True)
    # One convention for every subcommand: the store is --store URL (a selector, where one applies, in its query).
    def store_option(sub, selects: bool) -> None:
        sub.add_argument("--store", default=DEFAULT_STORE, metavar="URL",
                         help=f"SQLite path, sqlite:///FILE or postgresql://USER@HOST/DB (default {DEFAULT_STORE})"
                         + ("; ?selector picks runs (README: Results store)" if selects else ""))

    put = actions.add_parser("import", help="store run files (all or nothing; a run already stored is not stored twice)")
    put.add_argument("runs", nargs="+", type=Path, help="--benchmark-json files (or folders of them)")
    store_option(put, selects=False)
    listing = actions.add_parser("list", help="the stored runs a selector picks (default: all)")
    store_option(listing, selects=True)
    export = actions.add_parser("export", help="write the selected runs back out as pytest-benchmark JSON files")
    store_option(export, selects=True)
    export.add_argument("--out", type=Path, required=True, help="output folder")
    store.set_defaults(func=cmd_store)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except QbenchError as exc:
        print(f"qbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
