"""Keep LiteRT's native log off the terminal, but at hand when something fails.

Loading a model prints ~30 INFO/WARNING lines per CompiledModel (the accelerator registry, a vendor compiler
plugin that fails to load, "Created TensorFlow Lite XNNPACK delegate") from C++ straight to file descriptor
2: ``sys.stderr``, ``logging`` and ``TF_CPP_MIN_LOG_LEVEL`` never see them. So the load is wrapped in
``captured()``, which points fd 2 itself at a temp file and reads it back afterwards: the text goes into
the ``QbenchError`` when the load fails (LiteRT's Python exceptions often say no more than
"compiled_model.cc:1036"), and to the terminal only when asked for: ``QBENCH_LITERT_LOG=1`` or
``pytest -v`` (the plugin calls ``show(True)``).

fd 2 is process-wide, so anything another thread writes to stderr during a load lands in the capture too;
qbench loads models from one thread (pytest-xdist workers are processes).
"""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from qbench import chatter, progress

# LiteRT's problem lines: its own "ERROR:/WARNING: [file.cc:N] text", absl's "E0000 ...] text", a fail-fast
# check's "FATAL ERROR: text", dawn's "Warning: text", and the "└ text" lines that carry the cause.
_PROBLEM = re.compile(r"^(?:FATAL ERROR|ERROR|WARNING|Warning|E\d{4} [^\]]*\]|└)\s*:?\s*(?:\[[^\]]*\])?\s*(.*)$")
_LOCATION = re.compile(r"\s*(?:with error: )?ERROR: \[[^\]]*\]\s*")  # a bare "ERROR: [file.cc:N]" says nothing
_PATH = re.compile(r"/\S*/([^/\s:]+)")  # /long/site-packages/.../libX.so -> libX.so
_NOISE = ("Logging before InitGoogle()",)


def tidy(message: str) -> str:
    """One LiteRT message without source locations and with library paths cut to their file names."""
    return _PATH.sub(r"\1", _LOCATION.sub(" ", message)).strip(" .;")


def tidy_joined(message: str) -> str:
    """An Interpreter error, whose reporter joins its lines with nothing between them ("...in XNNPACK
    delegateunsupported datatype...Node number 1 (...) failed to prepare."), as "; "-separated tidy parts."""
    parts = re.split(r"(?<=delegate)(?=[A-Za-z])|(?<=[a-z0-9.)])(?=Node number )|\n", message)
    return "; ".join(filter(None, (tidy(p) for p in parts)))


show, showing = chatter.show, chatter.showing  # one switch for every captured log (-v, QBENCH_LITERT_LOG=1)


@dataclass
class Capture:
    """What LiteRT printed during a ``captured()`` block (filled in when the block ends)."""

    text: str = ""

    def problems(self, limit: int = 6, ignore: tuple[str, ...] = ()) -> list[str]:
        """LiteRT's own error and warning messages, without INFO lines, locations or repeats, and without
        those mentioning any word in ``ignore`` (lower case; e.g. another accelerator's registration)."""
        seen: list[str] = []
        for line in self.text.splitlines():
            m = _PROBLEM.match(line.strip())
            msg = m and tidy(m.group(1))
            if msg and not msg.startswith(_NOISE) and msg not in seen and not any(w in msg.lower() for w in ignore):
                seen.append(msg)
        return seen[-limit:]


@contextmanager
def captured(label: str = "LiteRT") -> Iterator[Capture]:
    """Redirect fd 2 to a temp file for the block; the Capture holds the text afterwards."""
    cap = Capture()
    with tempfile.TemporaryFile() as tmp:
        try:
            with chatter.fd2_into(tmp):
                yield cap
        finally:
            tmp.seek(0)
            cap.text = tmp.read().decode("utf-8", errors="replace")
    if chatter.showing() and cap.text.strip():  # through qbench's progress sink: past pytest's output capturing
        progress.log(f"LiteRT log, {label}:\n{cap.text.rstrip()}")
