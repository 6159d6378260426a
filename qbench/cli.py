"""``qbench``: list the axes, pre-build the cache, report and gate saved benchmark runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qbench import modes, runtime, selection
from qbench.cache import Cache
from qbench.errors import QbenchError
from qbench.models import registry
from qbench.workspace import Workspace


def cmd_list(args: argparse.Namespace) -> int:
    print("models:")
    for spec in registry.models().values():
        print(f"  {spec.id:<16} {spec.task:<15} {spec.description}")
    print("modes:")
    for mode in modes.MODES.values():
        print(f"  {mode.id:<16} {mode.description}")
    print("devices:")
    for device in runtime.DEVICES.values():
        print(f"  {device.id:<16} {device.description}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    ws = Workspace(Cache(args.cache), mnist_source=args.mnist)
    for model_id in selection.parse("models", args.models):
        for mode_id in selection.parse("modes", args.modes):
            artifact = ws.tflite(model_id, mode_id)
            print(f"{model_id:<16} {mode_id:<14} {artifact.bytes:>10} bytes  {artifact.path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the models, modes and devices qbench knows").set_defaults(func=cmd_list)

    build = sub.add_parser("build", help="train and convert every selected model x mode into the cache")
    build.add_argument("--models", help="comma-separated model ids (default: all)")
    build.add_argument("--modes", help="comma-separated mode ids (default: all)")
    build.add_argument("--cache", help="cache directory (default: $QBENCH_CACHE_DIR or ~/.cache/qbench)")
    build.add_argument("--mnist", help="your own MNIST (IDX folder, .npz or wheel)")
    build.set_defaults(func=cmd_build)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except QbenchError as exc:
        print(f"qbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
