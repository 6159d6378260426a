"""Is there a GPU / NPU for LiteRT here? Asked once per process, with a model every accelerator can run.

A GPU or NPU device must run where LiteRT finds that accelerator and skip elsewhere, with LiteRT's own
reason, never fail. Whether a *model* compiles says little about that (an op the GPU lacks is the model's
problem), so availability is probed with a one-op model (float32 ADD, built here with the TFLite schema
LiteRT ships) compiled for the accelerator alone, no CPU fallback: if even that fails, the accelerator
is not usable here and the device raises ``DeviceUnavailable`` carrying LiteRT's messages, e.g.
"Failed to initialize WebGPU environment: INTERNAL: No adapters found" on a machine without a GPU.
"""

from __future__ import annotations

from functools import cache

from qbench.errors import QbenchError
from qbench.runtime import quiet
from qbench.runtime.litert_env import environment


# Words that mark LiteRT's messages about each accelerator: a probe's log also carries the other
# accelerators' registration chatter, which is no reason for this one being absent.
TOPICS = {"gpu": ("gpu", "vulkan", "opencl", "metal", "adapter"),
          "npu": ("npu", "plugin", "dispatch", "openvino", "qualcomm", "mediatek", "accelerated")}


def unrelated(accelerator: str) -> tuple[str, ...]:
    """Words of the other accelerators' messages: noise in a log about a model on ``accelerator``."""
    return tuple(w for name, words in TOPICS.items() if name != accelerator for w in words)


class DeviceUnavailable(QbenchError):
    """The device's accelerator is not present here: the pytest plugin turns this into a skip."""


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


@cache
def unavailable_reason(accelerator: str) -> str | None:
    """None when LiteRT can run a model on ``accelerator`` ("gpu" | "npu") here, else LiteRT's reason."""
    from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator, Options

    env = environment()
    with quiet.captured(f"probing the {accelerator.upper()} accelerator") as log:
        try:
            CompiledModel.from_buffer(
                _one_add_model(), environment=env,
                options=Options(HardwareAccelerator[accelerator.upper()]),
            ).close()
        except (RuntimeError, ValueError) as exc:
            failure = quiet.tidy(str(exc).strip().splitlines()[-1].lstrip("└ "))
        else:
            return None
    messages = [p for p in log.problems() if p != failure] + ([failure] if failure else [])
    on_topic = [m for m in messages if any(word in m.lower() for word in TOPICS[accelerator])]
    return "; ".join(on_topic or messages)


def require(accelerator: str, device_id: str) -> None:
    if accelerator == "cpu":
        return
    if (reason := unavailable_reason(accelerator)) is not None:
        raise DeviceUnavailable(
            f"device {device_id!r}: LiteRT finds no usable {accelerator.upper()} here: {reason}",
            f"run {device_id} on a machine with a {accelerator.upper()} LiteRT supports, or leave it out "
            "with --qbench-devices",
        )
