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
