"""Execution targets ("devices") and the Runner that loads a .tflite file on one of them.

Run stage only: LiteRT (``ai_edge_litert``) and numpy, never TensorFlow. The Runner converts between the
float data the datasets produce and whatever I/O types the model has (uint8 / int8 / int16 via the
model's own scale and zero point), evaluates in batches by resizing the input's dynamic batch dimension,
and reports which backend actually ran (XNNPACK delegate partitions or plain kernels).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qbench.errors import QbenchError, lookup
from qbench.quantize import QuantParams, dequantize, quantize


@dataclass(frozen=True)
class TensorInfo:
    name: str
    index: int
    shape: tuple[int, ...]  # per sample
    dtype: np.dtype
    quant: QuantParams | None


@dataclass(frozen=True)
class Device:
    id: str
    resolver: str  # ai_edge_litert.interpreter.OpResolverType member name
    threads: int | None  # None: all cores
    kernels: str
    description: str

    @property
    def num_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


DEVICES: dict[str, Device] = {
    d.id: d
    for d in (
        Device("xnnpack", "AUTO", 1, "xnnpack", "built-in ops + XNNPACK delegate (LiteRT default), 1 thread"),
        Device("xnnpack-mt", "AUTO", None, "xnnpack", "built-in ops + XNNPACK delegate, all cores"),
        Device("builtin", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", 1, "builtin", "optimized built-in kernels, 1 thread"),
        Device("reference", "BUILTIN_REF", 1, "reference", "reference kernels (correctness baseline), 1 thread"),
    )
}


def get(device_id: str) -> Device:
    return lookup(DEVICES, device_id, "device")


def _qparams(detail: dict) -> QuantParams | None:
    """The tensor's per-tensor quantization, or None for float tensors."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return None
    scale, zero_point = detail["quantization"]
    return QuantParams(float(scale), int(zero_point), dtype.name)


class Runner:
    """One interpreter for one model on one device."""

    def __init__(self, model_path: Path | str, device: Device, batch_size: int = 1):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.path = Path(model_path)
        self.device = device
        start = time.perf_counter()
        try:
            self.interpreter = Interpreter(
                model_path=str(self.path),
                num_threads=device.num_threads,
                experimental_op_resolver_type=OpResolverType[device.resolver],
            )
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise QbenchError(
                f"{self.path} is not a loadable TFLite model on device {device.id!r}: {str(exc).strip()}",
                "rebuild it (`qbench build`, or delete the cache entry) or check that the file is a complete .tflite",
            ) from None
        self.init_s = time.perf_counter() - start
        self.input = self.interpreter.get_input_details()[0]
        self.output_details = self.interpreter.get_output_details()
        self.output_detail = self.output_details[0]
        self.input_q = _qparams(self.input)
        self.output_q = _qparams(self.output_detail)
        self.outputs = [TensorInfo(d["name"], d["index"], tuple(int(v) for v in d["shape"][1:]), np.dtype(d["dtype"]),
                                   _qparams(d)) for d in self.output_details]
        self.batch_size = 1
        if batch_size != 1:
            self.resize(batch_size)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample input shape (without the batch dimension)."""
        return tuple(int(d) for d in self.input["shape"][1:])

    @property
    def backend(self) -> dict:
        ops = self.interpreter._get_ops_details()  # public API has no execution plan; op list shows delegates
        partitions = sum(op["op_name"] == "DELEGATE" for op in ops)
        return {
            "kernels": "xnnpack" if partitions else ("reference" if self.device.resolver == "BUILTIN_REF" else "builtin"),
            "delegate_partitions": partitions,
            "ops": len(ops) - partitions,
            "threads": self.device.num_threads,
            "resolver": self.device.resolver,
        }

    def resize(self, batch_size: int) -> None:
        if batch_size == self.batch_size:
            return
        if self.input["shape_signature"][0] != -1:
            raise QbenchError(
                f"{self.path.name} has a fixed batch size of {self.input['shape'][0]}; batched evaluation needs -1",
                "export the model with a dynamic (None) batch dimension",
            )
        self.interpreter.resize_tensor_input(self.input["index"], [batch_size, *self.input_shape])
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output_details = self.interpreter.get_output_details()
        self.output_detail = self.output_details[0]
        self.batch_size = batch_size

    def check_shape(self, x: np.ndarray) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise QbenchError(
                f"{self.path.name} expects inputs of shape {list(self.input_shape)} per sample, "
                f"but the data has {list(x.shape[1:])}",
                "pair the model with the dataset it was built for, or fix its input shape",
            )

    def set_input(self, x: np.ndarray) -> None:
        """Set a batch of float inputs, quantized with the model's own input parameters if it has them."""
        self.check_shape(x)
        self.resize(len(x))
        data = quantize(x, self.input_q) if self.input_q else np.asarray(x, dtype=self.input["dtype"])
        self.interpreter.set_tensor(self.input["index"], data)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def raw_output(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_detail["index"])

    def output(self) -> np.ndarray:
        """The output in real (float) units."""
        raw = self.raw_output()
        return dequantize(raw, self.output_q) if self.output_q else raw.astype(np.float32)

    def map_batches(self, x: np.ndarray, reduce: Callable[[list[np.ndarray]], Any], batch_size: int = 256) -> list:
        """Run all of ``x`` in batches and return ``reduce(raw outputs)`` of each batch (e.g. an argmax).

        ``reduce`` sees every raw output: dequantizing is a monotonic map (positive scale), so an argmax over
        raw integers equals the argmax over dequantized values and skips a float copy of large outputs.
        It sees them in place (views of the interpreter's buffers, no 10 MB copy per segmentation frame), so
        it must return new arrays and keep no reference to its argument.
        """
        self.check_shape(x)
        parts = []
        for start in range(0, len(x), batch_size):
            self.set_input(x[start : start + batch_size])
            self.invoke()
            parts.append(reduce([self.interpreter.tensor(d["index"])() for d in self.output_details]))
        return parts
