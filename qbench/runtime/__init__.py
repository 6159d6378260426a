"""Execution targets ("devices") and the Runners that load a .tflite file on one of them.

Run stage only: LiteRT (``ai_edge_litert``) and numpy, never TensorFlow. Nothing outside this package
touches LiteRT's Interpreter or CompiledModel: the rest of qbench sees ``Runner`` (runner.py), made by
``open_runner`` for a ``Device`` from the registry (devices.py) by the device's runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench.errors import NotApplicable
from qbench.runtime import quiet
from qbench.runtime.accelerators import DeviceUnavailable
from qbench.runtime import compiled_model, interpreter, onnxruntime, tflm  # noqa: F401  (they register their runtimes)
from qbench.runtime.device import Device
from qbench.runtime.devices import DEVICES, get
from qbench.runtime.runner import RUNTIMES, Runner, TensorInfo


def open_runner(path: Path | str, device: Device, batch_size: int = 1, label: str | None = None) -> Runner:
    """Load ``path`` on ``device``; ``label`` (e.g. "mnist_cnn int8") names it in errors.

    Raises ``DeviceUnavailable`` (a QbenchError; the pytest plugin turns it into a skip) when the device's
    accelerator is not present here, and one QbenchError naming file and device when the model does not load.
    """
    return RUNTIMES.get(device.runtime)(path, device, batch_size, label=label)


def check_format(mode, device: Device, label: str) -> None:
    """NotApplicable (the case skips) when the device's runtime cannot load the mode's kind of file: a LiteRT device
    and an ONNX Runtime mode, or the other way round."""
    runtime = RUNTIMES.get(device.runtime)
    if mode.format not in runtime.formats:
        raise NotApplicable(f"{label} is a .{mode.format} file; {device.id} runs {runtime.id}, which loads "
                            f"{', '.join('.' + f for f in runtime.formats)} files",
                            f"run {mode.id} on a device whose runtime loads .{mode.format} (qbench list)")


def prepare_problem(data: bytes) -> str | None:
    """Why LiteRT cannot prepare ``data`` (a .tflite) on its built-in kernels, or None: what a quantizer checks
    before it stores a model (an unresolved custom op is not counted: which devices run it is a device question)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with quiet.captured():
        try:
            interpreter = Interpreter(model_content=data,
                                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            text = " ".join(str(exc).split())
            return None if "custom op" in text.lower() else text
    return None


def signature_inputs(data: bytes, signature: str) -> dict[str, np.dtype]:
    """The inputs of a .tflite's signature, by name, with their dtypes."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet.captured():
        runner = Interpreter(model_content=data).get_signature_runner(signature)
    return {name: np.dtype(detail["dtype"]) for name, detail in runner.get_input_details().items()}


__all__ = ["DEVICES", "RUNTIMES", "Device", "DeviceUnavailable", "Runner", "TensorInfo", "get", "open_runner",
           "check_format", "prepare_problem", "signature_inputs"]
