"""A worked example of a new device, with a runtime of its own: one module, one registration each
(``@RUNTIMES.register`` for the runner class, ``DEVICES.register`` for the device).

``toy-reference`` runs LiteRT's reference kernels through a runner that counts its invokes (a stand-in for a real
new runtime: ONNX Runtime, TFLite Micro). A runtime subclasses ``Runner`` (here by reusing the Interpreter's) and is
constructed as ``cls(path, device, batch_size, label=...)``; a device is data naming its runtime, kernels, threads.
"""

from __future__ import annotations

from qbench.runtime import DEVICES, RUNTIMES, Device
from qbench.runtime.interpreter import InterpreterRunner


@RUNTIMES.register
class CountingInterpreter(InterpreterRunner):
    id = "toy-counting"
    invokes = 0  # over every instance of this process

    def invoke(self) -> None:
        type(self).invokes += 1
        super().invoke()


DEVICES.register(Device("toy-reference", "toy-counting", "reference", 1, "cpu",
                        "Interpreter with reference kernels, counting its invokes (a worked example)"))
