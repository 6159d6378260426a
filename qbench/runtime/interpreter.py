"""The classic ``ai_edge_litert.interpreter.Interpreter`` as a Runner.

The device's kernels pick the op resolver (``AUTO`` applies LiteRT's default XNNPACK delegate, the other
two keep it off), batches resize the input's dynamic batch dimension, and ``backend`` reads the execution
plan (private ``_get_ops_details``: the public API has none) to report whether XNNPACK took any of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from qbench.errors import QbenchError
from qbench.runtime import model_file
from qbench.runtime import quiet
from qbench.runtime.device import Device
from qbench.runtime.runner import RUNTIMES, Runner, TensorInfo, quant_params

RESOLVERS = {  # device kernels -> ai_edge_litert.interpreter.OpResolverType member
    "xnnpack": "AUTO",
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "reference": "BUILTIN_REF",
}


def _info(detail: dict) -> TensorInfo:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    return TensorInfo(
        name=detail["name"],
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"][1:]),
        dtype=dtype,
        quant=quant_params(dtype, scale, zero_point),
    )


@RUNTIMES.register
class InterpreterRunner(Runner):
    """LiteRT's classic Interpreter (``ai_edge_litert.interpreter``), on the op resolver the device's kernels name."""

    id = "interpreter"

    def __init__(self, model_path: Path | str, device: Device, batch_size: int = 1, label: str | None = None):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.path = Path(model_path)
        self.device = device
        self.resolver = RESOLVERS[device.kernels]
        start = time.perf_counter()
        with quiet.captured(f"{self.path.name} on {device.id}") as log:
            try:
                self.interpreter = Interpreter(
                    model_path=str(self.path),
                    num_threads=device.num_threads,
                    experimental_op_resolver_type=OpResolverType[self.resolver],
                )
                self.interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                failure = str(exc).strip()
            else:
                failure = None
        if failure is not None:
            raise model_file.refusal(self.path, device, label or self.path.name, quiet.tidy_joined(failure),
                                     "".join(f"\n  LiteRT: {p}" for p in log.problems()))
        self.init_s = time.perf_counter() - start
        self._details()
        self.batch_size = 1
        if batch_size != 1:
            self._resize(batch_size)

    def _details(self) -> None:
        self._input_details = self.interpreter.get_input_details()
        self._output_details = self.interpreter.get_output_details()
        self._inputs = [_info(d) for d in self._input_details]
        self._outputs = [_info(d) for d in self._output_details]

    def _resize(self, batch_size: int) -> None:
        if batch_size == self.batch_size:
            return
        first = self._input_details[0]
        if first["shape_signature"][0] != -1:
            raise QbenchError(
                f"{self.path.name} has a fixed batch size of {first['shape'][0]}; batched evaluation needs -1",
                "export the model with a dynamic (None) batch dimension",
            )
        self.interpreter.resize_tensor_input(first["index"], [batch_size, *self.input_shape])
        self.interpreter.allocate_tensors()
        self._details()
        self.batch_size = batch_size

    def set_input(self, x: np.ndarray) -> None:
        self.check_shape(x)
        self._resize(len(x))
        self.interpreter.set_tensor(self._inputs[0].index, self._model_input(x))

    def invoke(self) -> None:
        self.interpreter.invoke()

    def raw_output(self, i: int = 0) -> np.ndarray:
        return self.interpreter.get_tensor(self._outputs[i].index)  # get_tensor returns a copy

    def _output_views(self) -> list[np.ndarray]:
        return [self.interpreter.tensor(o.index)() for o in self._outputs]

    @property
    def backend(self) -> dict[str, Any]:
        ops = self.interpreter._get_ops_details()  # the execution plan: delegate partitions show as DELEGATE
        partitions = sum(op["op_name"] == "DELEGATE" for op in ops)
        kernels = "xnnpack" if partitions else ("reference" if self.device.kernels == "reference" else "builtin")
        return {
            "runtime": "interpreter",
            "kernels": kernels,
            "delegate_partitions": partitions,
            "ops": len(ops) - partitions,
            "threads": self.device.num_threads,
            "resolver": self.resolver,
            "accelerator": "cpu",
        }

    @property
    def computation(self) -> tuple:
        """The TFLite kernels that ran, how much XNNPACK took, and the thread count."""
        b = self.backend
        return ("tflite-cpu", b["kernels"], b["delegate_partitions"], b["threads"])

    def close(self) -> None:
        self.interpreter = None
