"""Which machine a run happened on: enough to tell an x86 laptop from a Pi from an emulated Pi.

pytest-benchmark's machine id (system-impl-pyver-bits) omits the CPU architecture, and its cpu info
does not say whether we run under QEMU; XNNPACK's speed depends on a handful of ISA extensions.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

from qbench.versions import emulated, run_versions

#: Flags that select XNNPACK / optimized-kernel code paths (x86: avx2/fma/avx512*, arm: asimd/dotprod/fp16).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512vnni", "avx_vnni", "amx_int8", "neon", "asimd", "asimddp", "asimdhp", "fphp", "i8mm", "sve")


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or "", set()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
        elif key == "cpu part" and not model:
            model = f"arm cpu part {value.strip()}"
    return model, flags


@functools.cache
def isa_flags() -> tuple[str, ...]:
    """The ``ISA_FLAGS`` this CPU has (the emulated CPU's, under QEMU user mode)."""
    return tuple(sorted(f for f in ISA_FLAGS if f in _cpuinfo()[1]))


def describe() -> dict:
    model, _ = _cpuinfo()
    return {
        "arch": platform.machine(),
        "cpu_model": model,
        "isa_flags": list(isa_flags()),
        "cores": os.cpu_count(),
        "emulated": emulated(),
        "emulated_cpu": os.environ.get("QBENCH_EMULATED_CPU") if emulated() else None,
        "versions": run_versions(),
    }


def machine_id(base: str) -> str:
    """pytest-benchmark's id plus the architecture (and emulation), so runs land in separate folders."""
    suffix = platform.machine() + ("-emulated" if emulated() else "")
    return f"{base}-{suffix}"
