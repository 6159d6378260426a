"""Can LiteRT's CompiledModel run here, and on which accelerators? Asked once per process, in a child process.

Two things can be missing, and neither may fail or crash a benchmark run:

- **the CompiledModel runtime itself.** ai-edge-litert 2.3.0's aarch64 wheel loads
  ``libLiteRtWebGpuAccelerator.so`` into every CompiledModel process (the runtime creates a default
  environment of its own that finds it next to itself), and that library is built for ARMv8.1 LSE
  atomics: on a Cortex-A72 (Raspberry Pi 4; the emulated CI CPU) the process dies at once with
  "This binary was compiled with lse enabled, but this feature is not available on this processor".
  The Interpreter does not load it and runs there as always.
- **the GPU / NPU.** A GPU or NPU device must run where LiteRT finds that accelerator and skip elsewhere.
  Whether a *model* compiles says little about that (an op the GPU lacks is the model's problem), so
  availability is probed with a one-op model (float32 ADD, built here with the TFLite schema LiteRT ships)
  compiled for the accelerator alone, no CPU fallback.

So the probe runs in a child Python (``python -c ... probe_here(accelerator)``): a crash there is a
reason, not the end of the run. The child prints LiteRT's messages for a failed compile; a child killed by
a signal leaves LiteRT's fatal message on its stderr. Either way the device raises ``DeviceUnavailable``
(a skip in pytest) carrying LiteRT's words, e.g. "Failed to initialize WebGPU environment: INTERNAL: No
adapters found" on a machine without a GPU. The probe costs ~1 s once per process natively.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path

from qbench.errors import NotApplicable
from qbench.runtime import quiet

# Words that mark LiteRT's messages about each accelerator: a probe's log also carries the other
# accelerators' registration chatter, which is no reason for this one being absent.
TOPICS = {"gpu": ("gpu", "vulkan", "opencl", "metal", "adapter"),
          "npu": ("npu", "plugin", "dispatch", "openvino", "qualcomm", "mediatek", "accelerated")}
PROBE_TIMEOUT_S = 600  # an emulated CPU takes ~20 s to start Python and LiteRT


def unrelated(accelerator: str) -> tuple[str, ...]:
    """Words of the other accelerators' messages: noise in a log about a model on ``accelerator``."""
    return tuple(w for name, words in TOPICS.items() if name != accelerator for w in words)


class DeviceUnavailable(NotApplicable):
    """The device's runtime or accelerator cannot run here: like any NotApplicable, its cases skip with the reason."""


def _one_add_model() -> bytes:
    """A valid .tflite with one float32 ADD of a [1, 4] input to itself."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def tensor(name: str) -> s.TensorT:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), [1, 4], s.TensorType.FLOAT32, 0
        return t

    code = s.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = s.BuiltinOperator.ADD, s.BuiltinOperator.ADD, 1
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 0], [1]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.AddOptions, s.AddOptionsT()
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = [tensor("x"), tensor("y")], [0], [1], [op]
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [s.BufferT()]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def probe_here(accelerator: str) -> int:
    """In the child: compile the one-op model for ``accelerator`` ("cpu" | "gpu" | "npu") alone and run it.
    Exit status 0 if it worked; otherwise the exception's last line on stdout and status 1. LiteRT's log
    goes to the child's stderr, which the parent reads (a capture here would die with the child)."""
    import numpy as np
    from ai_edge_litert.compiled_model import CompiledModel, Environment, HardwareAccelerator, Options

    try:
        model = CompiledModel.from_buffer(_one_add_model(), environment=Environment.create(),
                                          options=Options(HardwareAccelerator[accelerator.upper()]))
        inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
        inputs[0].write(np.ones((1, 4), np.float32))
        model.run_by_index(0, inputs, outputs)
        if outputs[0].read(4, np.float32).tolist() != [2.0] * 4:
            raise RuntimeError("1 + 1 did not give 2")
    except (RuntimeError, ValueError) as exc:
        print(quiet.tidy(str(exc).strip().splitlines()[-1].lstrip("└ ")), flush=True)
        return 1
    return 0


@cache
def unavailable_reason(accelerator: str) -> str | None:
    """None when LiteRT's CompiledModel runs a model on ``accelerator`` here, else LiteRT's reason."""
    code = "import sys; from qbench.runtime.accelerators import probe_here; sys.exit(probe_here(sys.argv[1]))"
    root = str(Path(__file__).resolve().parents[2])  # the directory holding the qbench package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    try:
        child = subprocess.run([sys.executable, "-c", code, accelerator], capture_output=True, text=True,
                               env=env, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"LiteRT did not finish compiling a one-op model for the {accelerator.upper()} in {PROBE_TIMEOUT_S} s"
    if child.returncode == 0:
        return None
    failure = child.stdout.strip().splitlines()[-1] if child.stdout.strip() else ""
    messages = [m for m in quiet.Capture(child.stderr).problems(limit=8) if m != failure] + [failure] * bool(failure)
    if accelerator in TOPICS:
        on_topic = [m for m in messages if any(word in m.lower() for word in TOPICS[accelerator])]
    else:
        on_topic = [m for m in messages if not any(word in m.lower() for word in unrelated(accelerator))]
    reason = "; ".join(on_topic or messages) or "no message"
    if child.returncode < 0:  # killed: e.g. SIGILL from a library built for a newer CPU
        return f"a process loading LiteRT's CompiledModel died of {signal.Signals(-child.returncode).name}: {reason}"
    return reason


def require(accelerator: str, device_id: str) -> None:
    """Raise DeviceUnavailable unless the CompiledModel runtime, and ``accelerator`` on it, work here."""
    fix = f"run {device_id} on a machine where LiteRT supports it, or leave it out with --qbench-devices"
    if (reason := unavailable_reason("cpu")) is not None:
        raise DeviceUnavailable(f"device {device_id!r}: LiteRT's CompiledModel cannot run here: {reason}", fix)
    if accelerator != "cpu" and (reason := unavailable_reason(accelerator)) is not None:
        raise DeviceUnavailable(f"device {device_id!r}: LiteRT finds no usable {accelerator.upper()} here: {reason}", fix)
