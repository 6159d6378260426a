"""ONNX Runtime as a Runner: the second framework's runtime, on the ``.onnx`` files of the ``ort-*`` modes.

An ``InferenceSession`` on one execution provider (EP), with the device's thread count as its intra-op pool
(``inter_op_num_threads`` 1, sequential execution, every graph optimization on: ORT's defaults for a CPU). The input
is bound once per ``set_input`` through an ``IOBinding`` to a contiguous array, the outputs to arrays allocated for
that batch, so ``invoke()`` -- ``InferenceSession.run_with_iobinding`` -- is the analogue of the Interpreter's
``invoke()`` and of the CompiledModel's ``run_by_index`` on buffers written beforehand: no feed dictionary, no output
allocation, no copy in the timed call.

Devices name an EP by ``kernels`` (``EXECUTION_PROVIDERS``). The PyPI wheel has the CPU EP (MLAS kernels) only; a
device whose EP this ``onnxruntime`` lacks skips with the providers it has, as ORT reports them.

The backend facts name how the CPU EP adds uint8 x int8 products (``int8_accumulation``): on an x86-64 CPU without
a VNNI dot product, MLAS's U8S8 kernels (which also run the QDQ S8S8 graphs, shifted to uint8) add pairs of
products in int16 with saturation (``vpmaddubsw``; ORT's quantization docs: "U8S8 ... may have saturation issues"
on such CPUs, and suggest ``reduce_range`` or U8U8). It costs accuracy (MNIST ``ort-int8``: 0.9760 on an AVX2-only
AMD EPYC, 0.9800 with VNNI or on NEON), a real property of that CPU which the results keep and the consistency
check names instead of failing (qbench/consistency.py). The recipe stays ORT's documented default.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from qbench import machine
from qbench.errors import QbenchError
from qbench.runtime.accelerators import DeviceUnavailable
from qbench.runtime.device import Device
from qbench.runtime.devices import DEVICES
from qbench.runtime.runner import RUNTIMES, Runner, TensorInfo

#: device kernels -> ONNX Runtime execution provider
EXECUTION_PROVIDERS = {"cpu": "CPUExecutionProvider", "xnnpack": "XnnpackExecutionProvider",
                       "cuda": "CUDAExecutionProvider"}

#: x86-64 ISA flags (as qbench.machine records them) whose int8 dot products accumulate in int32 in MLAS
VNNI_FLAGS = frozenset({"avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8"})


def int8_accumulation(arch: str, isa_flags) -> str:
    """``"int16-saturating"`` where MLAS's U8S8 kernels add product pairs in int16 (x86-64 without VNNI), else
    ``"int32"`` (VNNI / AMX on x86-64, NEON's widening and dot-product instructions on arm64)."""
    return "int16-saturating" if arch in ("x86_64", "AMD64") and not VNNI_FLAGS & set(isa_flags) else "int32"


#: ONNX tensor element types as ``NodeArg.type`` spells them
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int16)": np.int16, "tensor(int32)": np.int32,
           "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise QbenchError("the ort-* devices need onnxruntime, which is not installed",
                          "pip install -r requirements/run.txt -c requirements/constraints.txt") from None
    return onnxruntime


def _info(index: int, arg) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape[1:])
    return TensorInfo(arg.name, index, shape, np.dtype(_DTYPES.get(arg.type, np.float32)), None)


@RUNTIMES.register
class OrtRunner(Runner):
    """ONNX Runtime's ``InferenceSession`` on the execution provider the device's kernels name."""

    id = "onnxruntime"
    formats = ("onnx",)

    def __init__(self, model_path: Path | str, device: Device, batch_size: int = 1, label: str | None = None):
        ort = _ort()
        self.path, self.device = Path(model_path), device
        self.provider = EXECUTION_PROVIDERS[device.kernels]
        available = ort.get_available_providers()
        if self.provider not in available:
            raise DeviceUnavailable(
                f"{device.id} needs ONNX Runtime's {self.provider}; this onnxruntime {ort.__version__} offers "
                f"{', '.join(available)}", "install an onnxruntime build with that execution provider, or use ort-cpu")
        options = ort.SessionOptions()
        options.intra_op_num_threads = device.num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings about unused initializers are not ours
        start = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=[self.provider])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / InvalidProtobuf types
            message = " ".join(str(exc).split())
            raise QbenchError(f"ONNX Runtime cannot load {label or self.path.name} ({self.path}) on {device.id}: "
                              f"{message}", "rebuild it (`qbench build`, or delete the cache entry)") from None
        self.init_s = time.perf_counter() - start
        self._inputs = [_info(i, a) for i, a in enumerate(self.session.get_inputs())]
        self._outputs = [_info(i, a) for i, a in enumerate(self.session.get_outputs())]
        self._fixed_batch = self.session.get_inputs()[0].shape[0] if isinstance(
            self.session.get_inputs()[0].shape[0], int) else None
        self._binding = self.session.io_binding()
        self._bound: list[np.ndarray] = []
        self._input: np.ndarray | None = None
        self.batch_size = batch_size

    def _batch_limit(self, batch_size: int) -> int:
        return self._fixed_batch or batch_size

    def set_input(self, x: np.ndarray) -> None:
        self.check_shape(x)
        if self._fixed_batch is not None and len(x) != self._fixed_batch:
            raise QbenchError(f"{self.path.name} has a fixed batch size of {self._fixed_batch}; got {len(x)}",
                              "export the model with a dynamic (None) batch dimension")
        self._input = np.ascontiguousarray(self._model_input(x))  # kept alive: the binding points at its memory
        self._binding.clear_binding_inputs()
        self._binding.clear_binding_outputs()
        self._binding.bind_cpu_input(self._inputs[0].name, self._input)
        self._bound = []
        for info in self._outputs:
            if all(d > 0 for d in info.shape):  # outputs of a known shape go to arrays of ours: no allocation
                out = np.empty((len(x), *info.shape), info.dtype)
                self._binding.bind_output(info.name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)
                self._bound.append(out)
            else:
                self._binding.bind_output(info.name, "cpu")
        self.batch_size = len(x)

    def invoke(self) -> None:
        self.session.run_with_iobinding(self._binding)

    def _output_views(self) -> list[np.ndarray]:
        if len(self._bound) == len(self._outputs):
            return list(self._bound)
        return self._binding.copy_outputs_to_cpu()

    def raw_output(self, i: int = 0) -> np.ndarray:
        return self._output_views()[i].copy()

    @property
    def backend(self) -> dict[str, Any]:
        import onnxruntime

        return {
            "runtime": "onnxruntime",
            "kernels": self.device.kernels,
            "providers": self.session.get_providers(),
            "threads": self.device.num_threads,
            "accelerator": self.device.accelerator,
            "onnxruntime": onnxruntime.__version__,
            "int8_accumulation": int8_accumulation(platform.machine(), machine.isa_flags()),
        }

    @property
    def computation(self) -> tuple:
        """onnxruntime's version (the evaluation key holds LiteRT's only), the execution providers that ran and the
        thread count."""
        import onnxruntime

        return ("onnxruntime", onnxruntime.__version__, tuple(self.session.get_providers()), self.device.num_threads)

    def close(self) -> None:
        self._binding = self.session = None
        self._bound, self._input = [], None


for _device in (
    Device("ort-cpu", "onnxruntime", "cpu", 1, "cpu", "ONNX Runtime, CPU execution provider (MLAS), 1 thread",
           peer="xnnpack"),
    Device("ort-cpu-mt", "onnxruntime", "cpu", None, "cpu", "ONNX Runtime, CPU execution provider, all cores",
           peer="xnnpack-mt"),
    Device("ort-xnnpack", "onnxruntime", "xnnpack", 1, "cpu",
           "ONNX Runtime, XNNPACK execution provider, 1 thread; skipped where the onnxruntime build lacks it",
           peer="xnnpack"),
):
    DEVICES.register(_device)
