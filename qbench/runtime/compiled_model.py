"""LiteRT's ``CompiledModel`` API (ai-edge-litert 2.x) as a Runner.

The model is compiled once for the device's accelerator: CPU with ``CpuOptions(num_threads, kernel_mode)``
(``CpuKernelMode`` XNNPACK / BUILTIN / REFERENCE), or GPU / NPU with the CPU as fallback for the ops they
decline (LiteRT's recommended setting; ``backend["fully_accelerated"]`` says whether any fell back). Every
device first asks ``accelerators`` whether the CompiledModel runtime, and its accelerator, work here at all
(``DeviceUnavailable`` otherwise). A file is verified as a flatbuffer before LiteRT loads it
(``model_file.problem``).

Input and output TensorBuffers are created once; ``set_input`` writes the input buffer, and the timed
``invoke()`` is ``run_by_index(0, inputs, outputs)`` on those pre-written buffers, the analogue of the
Interpreter's ``invoke()``. A plain .tflite without a signature runs as signature 0 all the same.

Batches: ``CompiledModel.resize_input_tensor`` in ai-edge-litert 2.3.0 resizes the input but neither the
output buffer requirements nor the output buffers follow (the run fails with "Custom allocation is too
small", or buffer creation with "Insufficient buffer size", even for a plain convolution; LiteRT issue
#5774), so this runner runs one sample per call and ``map_batches`` loops over samples. Outputs can only
be read as copies (``TensorBuffer.read``); buffers over numpy memory need the tensor's rank, which
``create_from_host_memory`` (1-D) does not give.
"""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qbench.errors import NotApplicable, QbenchError
from qbench.runtime import accelerators, model_file, quiet
from qbench.runtime.device import Device
from qbench.runtime.interpreter import InterpreterRunner
from qbench.runtime.litert_env import environment
from qbench.runtime.runner import RUNTIMES, Runner, TensorInfo

KERNEL_MODES = {"xnnpack": "XNNPACK", "builtin": "BUILTIN", "reference": "REFERENCE"}  # -> CpuKernelMode


def _options(device: Device):
    from ai_edge_litert.compiled_model import CpuKernelMode, CpuOptions, HardwareAccelerator, Options

    if device.accelerator == "cpu":
        cpu = CpuOptions(num_threads=device.num_threads, kernel_mode=CpuKernelMode[KERNEL_MODES[device.kernels]])
        return Options(HardwareAccelerator.CPU, cpu_options=cpu)
    accelerator = HardwareAccelerator[device.accelerator.upper()] | HardwareAccelerator.CPU
    return Options(accelerator, cpu_options=CpuOptions(num_threads=device.num_threads))


def tensor_buffer_dtypes() -> frozenset[str]:
    """The element types LiteRT's TensorBuffer reads and writes (2.3.0: no int16, no int64)."""
    from ai_edge_litert.tensor_buffer import TensorBuffer

    return frozenset(TensorBuffer._DTYPE_STRINGS.values())


@RUNTIMES.register
class CompiledModelRunner(Runner):
    """LiteRT's CompiledModel API on the device's CPU kernel mode or accelerator (see the module docstring)."""

    id = "compiled_model"

    def __init__(self, model_path: Path | str, device: Device, batch_size: int = 1, label: str | None = None):
        from ai_edge_litert.compiled_model import CompiledModel

        self.path = Path(model_path)
        self.device = device
        self.batch_size = 1
        accelerators.require(device.accelerator, device.id)
        env = environment()
        what = label or self.path.name
        with quiet.captured(f"verifying {self.path.name}") as log:
            invalid = model_file.problem(self.path)
        if invalid is not None:
            raise QbenchError(
                f"{what} ({self.path}) is not a complete TFLite model: {invalid}"
                + "".join(f"\n  LiteRT: {p}" for p in log.problems()),
                "rebuild it (`qbench build`, or delete the cache entry) or check that the file is a complete .tflite",
            )
        self._inputs, outputs = model_file.io_tensors(self.path)
        unsupported = sorted({t.dtype.name for t in (*self._inputs, *outputs)} - tensor_buffer_dtypes())
        if unsupported:  # e.g. ai-edge-quantizer's int16 I/O: the same file runs on the Interpreter devices
            raise NotApplicable(f"LiteRT's CompiledModel TensorBuffers take no {', '.join(unsupported)} input or "
                                f"output (ai-edge-litert 2.3.0); {what} has them",
                                "measure this mode on the Interpreter devices")
        start = time.perf_counter()
        with quiet.captured(f"{self.path.name} on {device.id}") as log:
            try:  # LiteRT compiles lazily: any of these calls may be the one that fails
                self.model = CompiledModel.from_file(str(self.path), environment=env, options=_options(device))
                self._in = self.model.create_input_buffers(0)
                self._out = self.model.create_output_buffers(0)
                self._order = self._buffer_order(outputs)
                self._fully_accelerated = self.model.is_fully_accelerated()
            except (ValueError, RuntimeError) as exc:
                failure = "; ".join(filter(None, (quiet.tidy(line.lstrip("└ ")) for line in str(exc).splitlines())))
            else:
                failure = None
        if failure is not None:  # a complete file it refuses: the mode does not apply on this device (a skip)
            raise model_file.refusal(
                self.path, device, what, f"CompiledModel does not compile it: {failure}",
                "".join(f"\n  LiteRT: {p}" for p in log.problems(ignore=accelerators.unrelated(device.accelerator))))
        self.init_s = time.perf_counter() - start
        self._outputs = outputs  # subgraph order, as the Interpreter lists them; _order maps to the buffers
        self._sizes = [int(np.prod(o.shape, dtype=np.int64)) for o in self._outputs]
        if batch_size != 1:
            self._check_batch(batch_size)

    def _buffer_order(self, outputs: list[TensorInfo]) -> list[int]:
        """Position of each subgraph output among the output buffers (which follow the signature)."""
        signature = self.model.get_signature_by_index(0)
        details = self.model.get_output_tensor_details(signature["key"])
        position = {int(details[name]["index"]): k for k, name in enumerate(signature["outputs"])}
        return [position[o.index] for o in outputs]

    def _check_batch(self, n: int) -> None:
        if n != 1:
            raise QbenchError(
                f"{self.path.name} on {self.device.id}: the CompiledModel runner runs one sample per call "
                f"(ai-edge-litert 2.3.0 does not resize output buffers), got a batch of {n}",
                "set one sample at a time, or use map_batches, which loops over samples",
            )

    def set_input(self, x: np.ndarray) -> None:
        self.check_shape(x)
        self._check_batch(len(x))
        self._in[0].write(self._model_input(x))

    def invoke(self) -> None:
        self.model.run_by_index(0, self._in, self._out)

    def raw_output(self, i: int = 0) -> np.ndarray:
        info = self._outputs[i]
        return self._out[self._order[i]].read(self._sizes[i], info.dtype).reshape(1, *info.shape)

    def _output_views(self) -> list[np.ndarray]:
        return self.raw_outputs()  # TensorBuffer.read is the only way out: copies

    def _batch_limit(self, batch_size: int) -> int:
        return 1

    @cached_property
    def _twin(self) -> dict[str, Any] | None:
        """The backend of the Interpreter device this one computes like, on this model (see devices.py)."""
        if self.device.twin is None:
            return None
        from qbench.runtime.devices import get

        with InterpreterRunner(self.path, get(self.device.twin)) as twin:
            return {"device": twin.device.id, **twin.backend, "computation": twin.computation}

    @property
    def backend(self) -> dict[str, Any]:
        twin = self._twin
        return {
            "runtime": "compiled_model",
            # what ran: a CPU kernel mode runs what its Interpreter twin runs (bit for bit, tested), so
            # XNNPACK declining all of int16x8 reads "builtin" here as it does there
            "kernels": twin["kernels"] if twin else self.device.kernels,
            "kernel_mode": KERNEL_MODES.get(self.device.kernels) if self.device.accelerator == "cpu" else None,
            "fully_accelerated": self._fully_accelerated,
            "threads": self.device.num_threads,
            "accelerator": self.device.accelerator,
            "computes_like": twin["device"] if twin else None,
        }

    @property
    def computation(self) -> tuple:
        """The twin's kernels, at one sample per call. Not the twin's own key: the Interpreter evaluates in
        batches, and the built-in float kernels round differently at batch 1 than in batches (measured on
        MNIST float32, float16 and int8-float-io: up to 1.1e-5 apart), so CompiledModel devices share an
        evaluation only among themselves (``cm-reference`` with ``cm-builtin``, ``cm-xnnpack`` int16x8
        with both)."""
        twin = self._twin
        if twin is None:
            return ("compiled_model", self.device.id, self.device.num_threads)
        return ("tflite-cpu, one sample per call", *twin["computation"][1:])

    def close(self) -> None:
        for buffer in (*self._in, *self._out):
            buffer.destroy()
        self._in, self._out = [], []
        self.model.close()
