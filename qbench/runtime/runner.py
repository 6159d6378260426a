"""The Runner interface: one model loaded on one device, whatever LiteRT API loads it.

The benchmarks and the evaluation only see this class, so a second runtime (the Interpreter and the
CompiledModel today) plugs in without them knowing. Conversions every runtime needs live here once:
float data in, quantized with the model's own input parameters for integer I/O (uint8 / int8 / int16);
raw outputs out, dequantized on request. Everything that names ``ai_edge_litert`` stays in the
subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qbench.errors import QbenchError
from qbench.quantize import QuantParams, dequantize, quantize
from qbench.registry import Registry
from qbench.runtime.device import Device


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as both runtimes see it."""

    name: str
    index: int  # tensor index in the model's subgraph (the same for every runtime)
    shape: tuple[int, ...]  # per sample: without the batch dimension
    dtype: np.dtype
    quant: QuantParams | None  # per-tensor parameters of an integer tensor; None for float


class Runner(ABC):
    """One model on one device. ``invoke()`` is the call the latency benchmark times. A runtime is a subclass
    decorated ``@RUNTIMES.register``, constructed as ``cls(path, device, batch_size, label=...)``; a device names it
    by ``id`` (``tests/extensions/toy_device.py`` is a worked example)."""

    id: str  # the runtime a Device names
    formats: tuple[str, ...] = ("tflite",)  # the artifact formats it loads (``Mode.format``)
    path: Path
    device: Device
    init_s: float  # seconds to load + allocate (Interpreter) or load + compile (CompiledModel)
    batch_size: int  # samples per invoke()

    # -- what the model looks like (a runtime fills ``_inputs`` / ``_outputs`` when it loads the model) -------
    _inputs: list[TensorInfo]
    _outputs: list[TensorInfo]

    @property
    def inputs(self) -> list[TensorInfo]:
        return self._inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        """All outputs (a detector has several), in the model's subgraph order."""
        return self._outputs

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample shape of input 0 (without the batch dimension)."""
        return self.inputs[0].shape

    def check_shape(self, x: np.ndarray) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise QbenchError(
                f"{self.path.name} expects inputs of shape {list(self.input_shape)} per sample, "
                f"but the data has {list(x.shape[1:])}",
                "pair the model with the dataset it was built for, or fix its input shape",
            )

    # -- running it -----------------------------------------------------------------------------------------
    @abstractmethod
    def set_input(self, x: np.ndarray) -> None:
        """Write a float batch to input 0 (quantized if the model has integer input), resizing the batch
        where the runtime allows. Untimed: ``invoke()`` then runs on what was written here."""

    @abstractmethod
    def invoke(self) -> None:
        """The timed call: one inference on the input already set."""

    @abstractmethod
    def raw_output(self, i: int = 0) -> np.ndarray:
        """Output ``i`` of the last invoke as the model stores it (a copy)."""

    def raw_outputs(self) -> list[np.ndarray]:
        return [self.raw_output(i) for i in range(len(self.outputs))]

    def output(self, i: int = 0) -> np.ndarray:
        """Output ``i`` in real (float) units."""
        raw, quant = self.raw_output(i), self.outputs[i].quant
        return dequantize(raw, quant) if quant else raw.astype(np.float32)

    def map_batches(
        self, x: np.ndarray, reduce: Callable[[list[np.ndarray]], Any], batch_size: int = 256
    ) -> list[Any]:
        """Run all of ``x`` in batches; return ``reduce(raw outputs)`` per batch (the caller concatenates).

        ``reduce`` gets a list with one raw array per output. Dequantizing is monotonic (positive scale), so
        an argmax over raw integers equals the argmax over real values and skips a float copy of large
        outputs. The arrays may be views of the runtime's own buffers (no 10 MB copy per segmentation
        frame): ``reduce`` must return new arrays and keep no reference to its argument.
        """
        self.check_shape(x)
        step = self._batch_limit(batch_size)
        parts = []
        for start in range(0, len(x), step):
            self.set_input(x[start : start + step])
            self.invoke()
            parts.append(reduce(self._output_views()))
        return parts

    def _batch_limit(self, batch_size: int) -> int:
        """The batch ``map_batches`` can actually run (a runtime that cannot resize says 1)."""
        return batch_size

    @abstractmethod
    def _output_views(self) -> list[np.ndarray]:
        """The last invoke's raw outputs, in place where the runtime allows."""

    def footprint(self) -> dict[str, Any] | None:
        """The memory a target needs to run the model (``tflm``: tensor arena and flash bytes), or None: the results
        carry it as ``extra_info["footprint"]`` (qbench.mcu judges it against MCU classes)."""
        return None

    # -- what ran -------------------------------------------------------------------------------------------
    @property
    @abstractmethod
    def backend(self) -> dict[str, Any]:
        """Facts of what actually ran: runtime, kernels, threads, accelerator, and the runtime's own details."""

    @property
    @abstractmethod
    def computation(self) -> tuple:
        """Equal for two runners of the same model exactly when they compute bit-identical outputs: the
        evaluation is run once per model x mode x computation and shared between devices."""

    @abstractmethod
    def close(self) -> None:
        """Release the runtime's resources; the runner is unusable afterwards."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers for subclasses -----------------------------------------------------------------------------
    def _model_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` in input 0's own type: quantized with its parameters, or cast for float inputs."""
        info = self.inputs[0]
        return quantize(x, info.quant) if info.quant else np.asarray(x, dtype=info.dtype)


def quant_params(dtype: np.dtype, scale: float, zero_point: int) -> QuantParams | None:
    """Per-tensor quantization of an I/O tensor, or None for float tensors (which carry scale 0)."""
    if np.dtype(dtype).kind == "f":
        return None
    return QuantParams(float(scale), int(zero_point), np.dtype(dtype).name)


#: The runtimes by id (a device names its runtime): runner classes, each registered where it is defined.
RUNTIMES: Registry[type[Runner]] = Registry("runtime", id_of=lambda cls: cls.id, classes=True)
