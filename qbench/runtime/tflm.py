"""TensorFlow Lite Micro's host interpreter (PyPI ``tflite-micro``) as a Runner: will this file fit a microcontroller?

TFLM runs a ``.tflite`` on its own reference kernels out of one fixed block of memory, the *tensor arena*, which an
MCU's SRAM must hold; the model itself stays in flash, so the flash it needs is the file's bytes. The ``tflm``
device records both (``footprint()``), and evaluates quality like any device, one sample per call.

**Isolation.** TFLM's C++ prints its reasons straight to file descriptor 2 and raises a bare "TFLM failed to allocate
tensors"; an arena far too small (a few hundred bytes) crashes the process (seen: SIGSEGV at ``arena_size=100``).
So every model is first *probed* in a child Python (``probe_here``, the pattern of ``accelerators.py``): it loads
the file with an arena of ``arena_limit()`` bytes, invokes it once on zeros, reads the recording allocator's
breakdown (``print_allocations``: total, head, tail and each kind of allocation), and proves the total is the
minimum: an interpreter with exactly that arena allocates, one byte less does not. Its findings arrive as JSON
lines in a file of their own, so a crash mid-way still tells the parent how far it got. Only then does this
process load the file, with that minimal arena (what quality is evaluated with), TFLM's prints captured.

A file TFLM refuses (a hybrid model: "Hybrid models are not supported on TFLite Micro", float16 weights behind
DEQUANTIZE, an op it lacks) or one needing more than the arena limit skips on this device with TFLM's own words;
a damaged file is one error that says rebuild (``model_file.refusal``). Without the wheel (it exists only for
CPython 3.11 on x86_64 Linux: not on an arm64 board) the device skips with that reason.

The arena is what TFLM's *recording* allocator needed, the allocator the Python package builds; it carries a few
hundred bytes of bookkeeping a firmware's plain ``MicroAllocator`` does not, so the figure errs on the safe side.
Latency: TFLM's invokes are timed like any device's, on this host's CPU; they are labelled host-only
(``Device.latency_note``) and say nothing about an MCU's speed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from qbench.errors import NotApplicable, QbenchError
from qbench.runtime import model_file, quiet
from qbench.runtime.device import Device
from qbench.runtime.runner import RUNTIMES, Runner
from qbench.versions import installed

PACKAGE = "tflite-micro"
MODULE = "tflite_micro"
LIMIT_ENV = "QBENCH_TFLM_ARENA_LIMIT"  # bytes: a model needing a larger arena skips (an MCU has far less)
DEFAULT_ARENA_LIMIT = 256 << 20  # host memory, not an MCU's: whether it fits an MCU is the report's verdict
PROBE_TIMEOUT_S = 600
_RECORD = re.compile(r"\[RecordingMicroAllocator\] Arena allocation (total|head|tail) (\d+) bytes")
_PART = re.compile(r"\[RecordingMicroAllocator\] '([^']+)' used (\d+) bytes")
_SEARCH = "-- qbench: arena search --"
_SOURCE = re.compile(r"\S*/([^/\s]+\.(?:cc|h)(?::\d+)?)")  # tensorflow/lite/micro/kernels/x.cc:42 -> x.cc:42
_TOO_SMALL = ("failed to allocate", "failed to resize buffer", "missing:")  # TFLM's words for "arena too small"


def arena_limit() -> int:
    """The largest arena a model may ask for (``$QBENCH_TFLM_ARENA_LIMIT`` bytes, default 256 MiB)."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_ARENA_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise QbenchError(f"${LIMIT_ENV}={text!r} is not a positive number of bytes",
                          f"set it to the largest tensor arena to try, e.g. {DEFAULT_ARENA_LIMIT}, or unset it")
    return value


def version() -> str | None:
    return installed(PACKAGE)


def unavailable_reason() -> str | None:
    """None when TFLM's Python interpreter can be imported here, else why not."""
    if importlib.util.find_spec(MODULE) is None:
        import platform

        return (f"the {PACKAGE} wheel is not installed: it exists only for CPython 3.11 on x86_64 Linux "
                f"(this is Python {platform.python_version()} on {platform.machine()})")
    return None


# -- the child: load, invoke, record, prove the minimum ---------------------------------------------------------------

def _interpreter(data: bytes, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena)


def _recorded(interpreter) -> tuple[dict[str, int], dict[str, int]]:
    """The recording allocator's (total, head, tail) and per-kind bytes: it prints them to fd 2 from C++."""
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", errors="replace")
    return ({k: int(v) for k, v in _RECORD.findall(text)}, {k: int(v) for k, v in _PART.findall(text)})


def _allocates(data: bytes, arena: int) -> bool:
    try:
        _interpreter(data, arena)
    except RuntimeError:
        return False
    return True


def smallest_arena(allocates, total: int) -> int:
    """The smallest arena ``allocates`` (arena bytes -> bool, monotonic) accepts, given that ``total`` (what the
    recording allocator counted) allocates. The count includes alignment padding after the last tail allocation
    (mnist_cnn int8: 13,136 counted, 13,128 allocate), so the minimum is searched between ``total`` and a gap below it
    that fails; the gap widens from 1 KiB but never below half of ``total`` (an arena of a few hundred bytes crashes
    TFLM rather than failing)."""
    gap = 1024
    while True:
        low = max(total - gap, total // 2)
        if not allocates(low) or low == total // 2:
            break
        gap *= 4
    if allocates(low):
        return low
    while low + 1 < total:  # allocates(low) is False, allocates(total) is True
        middle = (low + total) // 2
        if allocates(middle):
            total = middle
        else:
            low = middle
    return total


def probe_here(model: str, limit: int, out: str) -> int:
    """In the child: write one JSON line to ``out`` per finished step; TFLM's own messages go to fd 2 (the parent's
    pipe). Exit status 0 when every step ran."""
    def step(**facts: Any) -> None:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(facts) + "\n")

    data = Path(model).read_bytes()
    try:
        interpreter = _interpreter(data, limit)
    except Exception as exc:  # noqa: BLE001  TFLM's Python reads the flatbuffer first: a damaged one raises anything
        step(stage="load", error=f"{type(exc).__name__}: {str(exc).strip()}".rstrip(": "))
        return 1
    step(stage="loaded")
    try:
        for i in range(len(model_file.io_tensors(Path(model))[0])):
            detail = interpreter.get_input_details(i)
            interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), i)
        interpreter.invoke()
    except (RuntimeError, ValueError) as exc:
        step(stage="invoke", error=str(exc).strip() or type(exc).__name__)
        return 1
    totals, parts = _recorded(interpreter)
    del interpreter
    if "total" not in totals:
        step(stage="record", error="the recording allocator printed no arena total")
        return 1
    step(stage="recorded", **totals, parts=parts)
    sys.stderr.write(f"{_SEARCH}\n")  # what TFLM prints below is the arena search's expected failures
    sys.stderr.flush()
    minimum = smallest_arena(lambda arena: _allocates(data, arena), totals["total"])
    step(stage="verified", minimum=minimum, allocates_at_minimum=_allocates(data, minimum),
         allocates_below=_allocates(data, minimum - 1))
    return 0


# -- the parent ---------------------------------------------------------------------------------------------------------

@cache
def _probe(path: str, size: int, mtime_ns: int, limit: int) -> dict[str, Any]:
    """The child's findings for one file (memoized per process: a cache entry's file never changes)."""
    code = ("import sys; from qbench.runtime.tflm import probe_here; "
            "sys.exit(probe_here(sys.argv[1], int(sys.argv[2]), sys.argv[3]))")
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="qbench-tflm-") as tmp:
        out = Path(tmp) / "steps.jsonl"
        try:
            child = subprocess.run([sys.executable, "-c", code, path, str(limit), str(out)], capture_output=True,
                                   text=True, env=env, timeout=PROBE_TIMEOUT_S)
            returncode, log = child.returncode, child.stderr + child.stdout
        except subprocess.TimeoutExpired as exc:
            returncode, log = None, (exc.stderr or b"").decode("utf-8", "replace") if isinstance(
                exc.stderr, bytes) else (exc.stderr or "")
        steps = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    facts: dict[str, Any] = {}
    for s in steps:
        facts.update(s)
    facts["returncode"] = returncode
    before, searching, during = log.partition(_SEARCH)
    facts["messages"] = _messages(during if searching and returncode else before)
    return facts


def _messages(log: str) -> list[str]:
    """TFLM's own lines (without Python's traceback, repeats or blank lines), last ones last."""
    seen: list[str] = []
    for line in log.splitlines():
        line = _SOURCE.sub(r"\1", line.strip())
        if line and not line.startswith(("Traceback", "File ", "^")) and line not in seen:
            seen.append(line)
    return seen[-6:]


def probe(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return _probe(str(path), stat.st_size, stat.st_mtime_ns, arena_limit())


def _failure(facts: dict[str, Any], limit: int) -> str | None:
    """Why the child did not finish, in TFLM's words, or None."""
    said = "; ".join(facts["messages"]) or facts.get("error") or "no message"
    if facts["returncode"] is None:
        return f"TFLM did not finish loading and invoking it in {PROBE_TIMEOUT_S} s ({said})"
    if facts["returncode"] < 0:
        where = {"loaded": "invoking it", "recorded": "checking its arena"}.get(facts.get("stage"), "loading it")
        return f"a process running TFLM died of {signal.Signals(-facts['returncode']).name} {where}: {said}"
    if facts.get("stage") == "load":
        if any(w in said.lower() for w in _TOO_SMALL):
            return (f"it needs more than the {limit:,}-byte tensor arena limit (${LIMIT_ENV}): {said}")
        return f"TFLM does not load it: {said}"
    if facts.get("stage") in ("invoke", "record"):
        return f"TFLM loads it but fails to {facts['stage']} it: {said}"
    if facts["returncode"] != 0 or facts.get("stage") != "verified":
        return f"TFLM's probe stopped after {facts.get('stage') or 'starting'}: {said}"
    return None


def per_channel_dequantize(path: Path) -> list[str]:
    """The DEQUANTIZE ops whose input carries one scale per channel, described: TFLM's DEQUANTIZE applies the first
    channel's scale to all of them (measured on ai-edge-quantizer's weight-only int8 MNIST: its outputs equal
    ``q * scale[0]``, accuracy fell from 98 % to 65 %), so such a file would run and compute wrong numbers."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    found = []
    for graph in model.subgraphs or []:
        for op in graph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.DEQUANTIZE:
                continue
            tensor = graph.tensors[op.inputs[0]]
            q = tensor.quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:
                found.append(f"{tensor.name.decode()!r} ({len(q.scale)} scales)")
    return found


@RUNTIMES.register
class TflmRunner(Runner):
    """TensorFlow Lite Micro's Python interpreter on its reference kernels, one sample per call, with the minimal arena."""

    id = "tflm"

    def __init__(self, model_path: Path | str, device: Device, batch_size: int = 1, label: str | None = None):
        from qbench.runtime.accelerators import DeviceUnavailable

        self.path = Path(model_path)
        self.device = device
        self.batch_size = 1
        what = label or self.path.name
        if (reason := unavailable_reason()) is not None:
            raise DeviceUnavailable(f"device {device.id!r}: {reason}",
                                    f"run {device.id} on an x86_64 Linux machine with Python 3.11, or leave it out "
                                    "with --qbench-devices")
        limit = arena_limit()
        if model_file.problem(self.path) is None and (wrong := per_channel_dequantize(self.path)):
            raise NotApplicable(
                f"{device.id} would compute wrong numbers for {what}: TFLM's DEQUANTIZE ({PACKAGE} {version()}) applies "
                f"the first channel's scale to every channel of a per-channel tensor, and {what} dequantizes "
                f"{len(wrong)} such tensor(s): {', '.join(wrong[:2])}{' ...' if len(wrong) > 2 else ''}",
                "ship a mode whose integer kernels TFLM runs itself (int8, int16x8, aeq-int8), or per-tensor weights")
        start = time.perf_counter()
        facts = probe(self.path)
        if (failure := _failure(facts, limit)) is not None:
            if (damaged := model_file.problem(self.path)) is not None:  # LiteRT's verifier names the damage
                raise QbenchError(f"{what} ({self.path}) is not a complete TFLite model: {damaged}; on {device.id}: "
                                  f"{failure}", "rebuild it (`qbench build`, or delete the cache entry); a file of "
                                  "your own: export it again")
            raise model_file.refusal(self.path, device, what, failure, "")
        if not facts.get("allocates_at_minimum") or facts.get("allocates_below"):
            raise QbenchError(f"{what} on {device.id}: TFLM's arena search found no clean minimum "
                              f"({facts.get('minimum')} bytes allocates: {facts.get('allocates_at_minimum')}, one byte "
                              f"less: {facts.get('allocates_below')}; the recording allocator counted {facts['total']})",
                              f"report it with the file; {PACKAGE} {version()} may record its arena differently")
        self._facts = facts
        self._inputs, self._outputs = model_file.io_tensors(self.path)
        with quiet.captured(f"{self.path.name} on {device.id}") as log:
            try:
                self.interpreter = _interpreter(self.path.read_bytes(), facts["minimum"])
            except RuntimeError as exc:
                failure = str(exc).strip()
            else:
                failure = None
        if failure is not None:
            raise NotApplicable(f"{device.id} refuses {what} in this process after its probe allocated it: {failure}"
                                + "".join(f"\n  TFLM: {m}" for m in _messages(log.text)),
                                "measure this mode on another device")
        self.init_s = time.perf_counter() - start
        self._input = np.zeros((1, *self._inputs[0].shape), self._inputs[0].dtype)
        if batch_size != 1:
            self._check_batch(batch_size)

    def _check_batch(self, n: int) -> None:
        if n != 1:
            raise QbenchError(f"{self.path.name} on {self.device.id}: TFLM runs one sample per call, got a batch of {n}",
                              "set one sample at a time, or use map_batches, which loops over samples")

    def set_input(self, x: np.ndarray) -> None:
        self.check_shape(x)
        self._check_batch(len(x))
        self._input = np.ascontiguousarray(self._model_input(x))

    def invoke(self) -> None:
        """Writes the input, then invokes: TFLM's memory planner lets later tensors reuse the input's arena bytes, so
        an invoke overwrites its own input (a second invoke on it computed other outputs), as on an MCU, where the
        firmware writes each input before its invoke. The copy is part of the timed call (784 bytes for MNIST)."""
        self.interpreter.set_input(self._input, 0)
        self.interpreter.invoke()

    def raw_output(self, i: int = 0) -> np.ndarray:
        info = self._outputs[i]
        return np.array(self.interpreter.get_output(i), dtype=info.dtype).reshape(1, *info.shape)

    def _output_views(self) -> list[np.ndarray]:
        return self.raw_outputs()

    def _batch_limit(self, batch_size: int) -> int:
        return 1

    def footprint(self) -> dict[str, Any]:
        f = self._facts
        return {"arena_bytes": f["minimum"], "flash_bytes": self.path.stat().st_size,
                "arena_recorded_bytes": f["total"], "arena_head_bytes": f["head"], "arena_tail_bytes": f["tail"],
                "arena_parts": f.get("parts", {}), "allocator": "RecordingMicroAllocator", "tflite_micro": version()}

    @property
    def backend(self) -> dict[str, Any]:
        return {"runtime": "tflm", "kernels": "reference", "threads": 1, "accelerator": "cpu",
                "tflite_micro": version(), "arena_bytes": self._facts["minimum"], "latency": "host-only",
                "invoke": "writes the input, then invokes (TFLM reuses the input's arena bytes)"}

    @property
    def computation(self) -> tuple:
        """TFLM's own reference kernels, at its version: shared with no LiteRT device (compared with ``reference``
        bit for bit in tests/integration/test_tflm_models.py instead)."""
        return ("tflm", version(), "reference kernels, one sample per call")

    def close(self) -> None:
        self.interpreter = None
