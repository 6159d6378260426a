"""What a device id stands for: which LiteRT runtime loads the model, on which kernels, with how many threads.

A device is data, not code: the runner for its ``runtime`` turns ``kernels`` / ``accelerator`` into that
runtime's own settings (the Interpreter's op resolver, the CompiledModel's ``CpuKernelMode`` and
``HardwareAccelerator``), so the registry in ``devices.py`` stays a plain table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    id: str
    runtime: str  # a RUNTIMES id ("interpreter" | "compiled_model"): which runner loads it
    kernels: str  # "xnnpack" | "builtin" | "reference" | "gpu" | "npu": what is asked for
    threads: int | None  # CPU threads; None: all cores
    accelerator: str  # "cpu" | "gpu" | "npu"
    description: str
    twin: str | None = None  # the Interpreter device measured to compute the same outputs bit for bit (batch 1)
    default: bool = False  # in the default selection: what a user deploys to (LiteRT's default, 1 core and all)
    latency_note: str | None = None  # what its timings are not (tflm: host-only, no MCU's speed); shown beside them
    #: the LiteRT device with the same CPU resources, whose float32 another framework's device is compared with: its
    #: cases are timed in that device's interleaved passes (``qbench.interleaved``) and ranked beside its cases
    peer: str | None = None

    @property
    def num_threads(self) -> int:
        return self.threads or os.cpu_count() or 1
