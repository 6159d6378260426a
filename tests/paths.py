"""Where the repository's parts are, for tests in any tier folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
QBENCH = REPO / "qbench"
