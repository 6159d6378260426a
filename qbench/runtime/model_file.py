"""A .tflite file's inputs and outputs, read from the flatbuffer itself, and whether it is one.

The CompiledModel API reports a signature's tensors by name with dtype and shape, but not their
quantization (needed to feed a uint8-input model real pixels and to dequantize its outputs), and it lists
outputs in signature order, which need not be the subgraph's order the Interpreter uses. LiteRT ships the
TFLite schema (``ai_edge_litert.schema_py_generated``); reading the few fields here keeps both runners'
``inputs`` / ``outputs`` identical for the same file.

``CompiledModel.from_file`` does not verify the flatbuffer: a truncated file can crash the process
(seen: a segmentation fault on half of a valid model). The Interpreter's loader runs the flatbuffer
verifier, so ``problem()`` asks it first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench.runtime.runner import TensorInfo, quant_params

_DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "bool")


def _dtype_table(schema) -> dict[int, np.dtype]:
    return {getattr(schema.TensorType, name.upper()): np.dtype(name) for name in _DTYPES}


def _tensor_info(graph, index: int, dtypes: dict[int, np.dtype]) -> TensorInfo:
    tensor = graph.Tensors(index)
    dtype = dtypes.get(tensor.Type(), np.dtype("float32"))
    q = tensor.Quantization()
    has_q = q is not None and q.ScaleLength() > 0 and q.ZeroPointLength() > 0
    return TensorInfo(
        name=tensor.Name().decode(),
        index=index,
        shape=tuple(int(d) for d in tensor.ShapeAsNumpy()[1:]),
        dtype=dtype,
        quant=quant_params(dtype, q.Scale(0), q.ZeroPoint(0)) if has_q else None,
    )


def problem(path: Path) -> str | None:
    """Why ``path`` is not a valid .tflite flatbuffer, or None (the Interpreter verifies; nothing is allocated)."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        Interpreter(model_path=str(path))
    except (ValueError, RuntimeError) as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def io_tensors(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of the first subgraph, in subgraph order."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(Path(path).read_bytes(), 0)
    graph, dtypes = model.Subgraphs(0), _dtype_table(schema)
    return ([_tensor_info(graph, int(i), dtypes) for i in graph.InputsAsNumpy()],
            [_tensor_info(graph, int(i), dtypes) for i in graph.OutputsAsNumpy()])


def zero_scales(path: Path) -> list[str]:
    """The quantized tensors whose stored scale is 0 somewhere, described ("tensor 77 'name', channel 44" or "...,
    block 44" for blockwise int4, whose scales are a tensor of their own, possibly stored past the flatbuffer): a
    quantizer wrote them (a weight block of all zeros, say), and kernels that divide by the scale refuse the file."""
    from ai_edge_litert import schema_py_generated as schema

    raw = Path(path).read_bytes()
    model = schema.ModelT.InitFromPackedBuf(raw, 0)
    found = []

    def describe(i: int, tensor, zeros: np.ndarray, unit: str) -> None:
        if len(zeros):
            more = f" and {len(zeros) - 3} more" if len(zeros) > 3 else ""
            found.append(f"tensor {i} {tensor.name.decode()!r}, {unit} {', '.join(map(str, zeros[:3]))}{more}")

    for graph in model.subgraphs or []:
        for i, tensor in enumerate(graph.tensors or []):
            q = tensor.quantization
            if q is None:
                continue
            if q.scale is not None and len(q.scale):
                describe(i, tensor, np.flatnonzero(np.asarray(q.scale) == 0), "channel")
            if isinstance(q.details, schema.BlockwiseQuantizationT) and q.details.scales >= 0:
                scales = graph.tensors[q.details.scales]
                buffer = model.buffers[scales.buffer]
                data = bytes(buffer.data) if buffer.data is not None else raw[buffer.offset:buffer.offset + buffer.size]
                dtype = np.float16 if scales.type == schema.TensorType.FLOAT16 else np.float32
                describe(i, tensor, np.flatnonzero(np.frombuffer(data, dtype) == 0), "block")
    return found


def refusal(path: Path, device, what: str, message: str, log: str):
    """The error for a runtime that will not load ``path``: a complete file it refuses is the mode not applying on
    this device (``NotApplicable``: the case skips with the runtime's words, and what in the file it balks at); an
    incomplete one is damaged (``QbenchError``: rebuild it)."""
    from qbench.errors import NotApplicable, QbenchError

    damaged = problem(path)
    if damaged is not None:
        return QbenchError(f"{what} ({path}) is not a complete TFLite model: {damaged}{log}",
                           "rebuild it (`qbench build`, or delete the cache entry); a file of your own: export it again")
    zeros = zero_scales(path)
    why = (f"; the file stores a quantization scale of 0 ({'; '.join(zeros[:2])}"
           f"{f' and {len(zeros) - 2} more tensors' if len(zeros) > 2 else ''}), which its quantizer wrote"
           if zeros else "")
    return NotApplicable(f"{device.id} ({device.description}) refuses {what}: {message}{why}{log}",
                         "measure this mode on a device that loads it (--qbench-devices; the built-in kernels take more "
                         "files than XNNPACK), or choose another mode")
