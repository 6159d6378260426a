"""The device registry: every id the ``--qbench-devices`` axis accepts, in report order.

Interpreter devices keep their historic ids. ``cm-*`` devices load the same file through LiteRT's
CompiledModel API. ``twin`` records a measurement, not a hope: run one sample per call, each CompiledModel
CPU device computed the same raw outputs, bit for bit, as the Interpreter device named, on every mode of
mnist_cnn and the default modes of deeplab_scenes (tests/integration/test_runtime_equivalence.py asserts it on
every run). So it reports the
kernels its twin reports (XNNPACK declining all of int16x8 reads "builtin" on both), and CompiledModel
devices with the same twin kernels share one evaluation (``Runner.computation``). ``cm-reference`` is
twinned with ``builtin``, not ``reference``: ai-edge-litert 2.3.0's ``CpuKernelMode.REFERENCE`` runs the
optimized built-in kernels (outputs identical to ``builtin``, at its speed: MNIST float32 0.07 ms per
invoke, where the Interpreter's reference kernels take 0.45 ms).
"""

from __future__ import annotations

from qbench.registry import Registry
from qbench.runtime.device import Device

#: Every device id the ``--qbench-devices`` axis accepts, in report order; a new device is one registration
#: (``DEVICES.register(Device(...))``, with a runtime of its own where it needs one: ``tests/extensions/toy_device.py``).
DEVICES: Registry[Device] = Registry("device")
for _device in (
    Device("xnnpack", "interpreter", "xnnpack", 1, "cpu",
           "Interpreter: built-in ops + XNNPACK delegate (LiteRT default), 1 thread", default=True),
    Device("xnnpack-mt", "interpreter", "xnnpack", None, "cpu",
           "Interpreter: built-in ops + XNNPACK delegate, all cores", default=True),
    Device("builtin", "interpreter", "builtin", 1, "cpu", "Interpreter: optimized built-in kernels, 1 thread"),
    Device("reference", "interpreter", "reference", 1, "cpu",
           "Interpreter: reference kernels (correctness baseline), 1 thread"),
    Device("cm-xnnpack", "compiled_model", "xnnpack", 1, "cpu",
           "CompiledModel on CPU, CpuKernelMode.XNNPACK, 1 thread", twin="xnnpack"),
    Device("cm-xnnpack-mt", "compiled_model", "xnnpack", None, "cpu",
           "CompiledModel on CPU, CpuKernelMode.XNNPACK, all cores", twin="xnnpack-mt"),
    Device("cm-builtin", "compiled_model", "builtin", 1, "cpu",
           "CompiledModel on CPU, CpuKernelMode.BUILTIN, 1 thread", twin="builtin"),
    Device("cm-reference", "compiled_model", "reference", 1, "cpu",
           "CompiledModel on CPU, CpuKernelMode.REFERENCE, 1 thread (LiteRT 2.3.0 runs the built-in kernels)",
           twin="builtin"),
    Device("cm-gpu", "compiled_model", "gpu", 1, "gpu",
           "CompiledModel on the GPU (CPU fallback for declined ops); skipped where LiteRT finds none"),
    Device("cm-npu", "compiled_model", "npu", 1, "npu",
           "CompiledModel on the NPU (CPU fallback for declined ops); skipped where LiteRT finds none"),
    Device("tflm", "tflm", "reference", 1, "cpu",
           "TensorFlow Lite Micro's host interpreter (reference kernels, minimal arena): arena + flash per MCU class",
           latency_note="host-only: TFLM's reference kernels on this machine's CPU, not an MCU's latency"),
):
    DEVICES.register(_device)


def get(device_id: str) -> Device:
    return DEVICES.get(device_id)
