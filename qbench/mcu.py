"""Microcontroller classes and the verdict "smallest mode within the quality budget that fits" on each.

A mode fits an MCU class when the tensor arena TFLM needs fits its RAM (SRAM, plus PSRAM where the board has it) and
the model file fits its flash. The figures come from a device whose runner records a ``footprint`` (the ``tflm``
device: ``extra_info["footprint"]``, qbench/runtime/tflm.py). They cover the model only: TFLM's own code (tens of
KB of flash for the kernels a model links), the firmware, its stack and buffers need room besides, so a mode that
fits with little to spare may not fit in practice; the table below lists each class's whole memory.

| class       | SRAM    | PSRAM | flash | e.g.                                         |
|-------------|---------|-------|-------|----------------------------------------------|
| Cortex-M0+  | 32 KB   | -     | 256 KB| Microchip SAMD21 (Arduino Zero)              |
| Cortex-M4   | 256 KB  | -     | 1 MB  | Nordic nRF52840, STM32F4                     |
| Cortex-M7   | 512 KB  | -     | 2 MB  | STM32F767 / F769                             |
| ESP32-S3    | 512 KB  | 8 MB  | 8 MB  | ESP32-S3-WROOM-1-N8R8 (arena may live in PSRAM) |

"Smallest" ranks by the memory the model takes on the board, arena + flash, then by quality (best first): on an MCU
both kinds of memory are the budget, and a float-I/O variant that saves a few bytes of either is the smaller one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

KB = 1024


@dataclass(frozen=True)
class McuClass:
    id: str
    name: str
    sram_bytes: int
    flash_bytes: int
    psram_bytes: int = 0
    example: str = ""

    @property
    def ram_bytes(self) -> int:
        """Where a tensor arena can live: SRAM, plus PSRAM (slower, but TFLM runs from it)."""
        return self.sram_bytes + self.psram_bytes

    def fits(self, footprint: Mapping[str, Any]) -> bool:
        return footprint["arena_bytes"] <= self.ram_bytes and footprint["flash_bytes"] <= self.flash_bytes

    def why_not(self, footprint: Mapping[str, Any]) -> str:
        """What does not fit ("" when it fits)."""
        parts = []
        if footprint["arena_bytes"] > self.ram_bytes:
            parts.append(f"arena {size(footprint['arena_bytes'])} > {size(self.ram_bytes)} RAM")
        if footprint["flash_bytes"] > self.flash_bytes:
            parts.append(f"flash {size(footprint['flash_bytes'])} > {size(self.flash_bytes)}")
        return ", ".join(parts)

    def memory(self) -> str:
        ram = size(self.sram_bytes) + (f" + {size(self.psram_bytes)} PSRAM" if self.psram_bytes else "")
        return f"{ram} / {size(self.flash_bytes)} flash"


MCU_CLASSES: tuple[McuClass, ...] = (
    McuClass("cortex-m0plus", "Cortex-M0+", 32 * KB, 256 * KB, example="Microchip SAMD21 (Arduino Zero)"),
    McuClass("cortex-m4", "Cortex-M4", 256 * KB, 1024 * KB, example="Nordic nRF52840, STM32F4"),
    McuClass("cortex-m7", "Cortex-M7", 512 * KB, 2048 * KB, example="STM32F767 / F769"),
    McuClass("esp32-s3", "ESP32-S3", 512 * KB, 8192 * KB, psram_bytes=8192 * KB,
             example="ESP32-S3-WROOM-1-N8R8 (arena in PSRAM beyond 512 KB)"),
)


def size(n: float) -> str:
    """Bytes as an MCU datasheet gives them (KB = 1024 bytes)."""
    if n >= 1024 * KB:
        return f"{n / (1024 * KB):.1f} MB".replace(".0 MB", " MB")
    if n >= KB:
        return f"{n / KB:.1f} KB".replace(".0 KB", " KB")
    return f"{int(n)} B"


def footprint(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """A result's footprint (``extra_info["footprint"]``) when it has a usable one."""
    found = info.get("footprint")
    if isinstance(found, dict) and all(isinstance(found.get(k), int) for k in ("arena_bytes", "flash_bytes")):
        return found
    return None


def total(fp: Mapping[str, Any]) -> int:
    return fp["arena_bytes"] + fp["flash_bytes"]


@dataclass(frozen=True)
class Fit:
    """The verdict on one MCU class: the pick (None: nothing within budget fits) and the eligible modes that fit."""

    mcu: McuClass
    mode: str | None
    footprint: dict[str, Any] | None
    fitting: tuple[str, ...]
    nearest: tuple[str, str] | None  # nothing fits: (mode, what does not fit) of the smallest within budget


def verdicts(cases: Sequence[Any], eligible: Iterable[Any], quality: Mapping[str, float | None],
             classes: Sequence[McuClass] = MCU_CLASSES) -> list[Fit]:
    """Per class: the smallest (arena + flash) of the ``eligible`` cases (within budget) that fits it. Cases are any
    objects with ``.mode`` and ``.info`` (the report's records); those without a footprint are left out."""
    ok = {id(c) for c in eligible}
    measured = [(c, fp) for c in cases if id(c) in ok and (fp := footprint(c.info)) is not None]

    def rank(pair):
        q = quality.get(pair[0].mode)
        return (total(pair[1]), -(q if q is not None else float("-inf")), pair[0].mode)

    measured.sort(key=rank)
    found = []
    for mcu in classes:
        fitting = [(c, fp) for c, fp in measured if mcu.fits(fp)]
        if fitting:
            c, fp = fitting[0]
            found.append(Fit(mcu, c.mode, fp, tuple(x.mode for x, _ in fitting), None))
        else:
            nearest = (measured[0][0].mode, mcu.why_not(measured[0][1])) if measured else None
            found.append(Fit(mcu, None, None, (), nearest))
    return found


def describe(fit: Fit) -> str:
    """One cell of the report: the pick with its memory, or why nothing fits."""
    if fit.mode is None:
        if fit.nearest is None:
            return "nothing within budget measured"
        return f"none fits (smallest within budget, {fit.nearest[0]}: {fit.nearest[1]})"
    fp = fit.footprint
    where = " in PSRAM" if fp["arena_bytes"] > fit.mcu.sram_bytes else ""
    return f"{fit.mode} ({size(fp['arena_bytes'])} arena{where} + {size(fp['flash_bytes'])} flash)"
