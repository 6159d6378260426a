"""The report's microcontroller answer: per model x machine x device that records a footprint (``tflm``), the smallest
mode within the quality budget that fits each MCU class (``qbench.mcu``), and each mode's arena and flash."""

from __future__ import annotations

from qbench import mcu
from qbench.report.load import Run
from qbench.report.recommend import answers, quality, within_budget
from qbench.report.tables import Table

NOTE = ("Fits: the tensor arena TFLM needed (the smallest that allocates, found on the host by qbench's tflm device) "
        "fits the class's RAM (SRAM, plus PSRAM on the ESP32-S3) and the model file its flash; the model only, TFLM's "
        "code and the firmware need room besides. Smallest: arena + flash, then quality. Within budget: the quality "
        "budget on that device (float32 qualifies). Classes: " + "; ".join(
            f"{c.name} {c.memory()} (e.g. {c.example})" for c in mcu.MCU_CLASSES) + ". No MCU latency is claimed: "
        "the device's timings are host-only.")


def _measured(runs: list[Run]):
    for a in answers(runs):
        if any(mcu.footprint(c.info) for c in a.cases):
            yield a


def fits_table(runs: list[Run]) -> Table | None:
    """One row per model x machine x device with footprints, one column per MCU class; None when no run has any."""
    rows = []
    for a in _measured(runs):
        eligible = [c for c in a.cases if within_budget(c)]
        fits = mcu.verdicts(a.cases, eligible, {c.mode: quality(c) for c in a.cases})
        rows.append([a.model, a.run.label, a.device, a.budget, *(mcu.describe(f) for f in fits)])
    if not rows:
        return None
    return Table("Microcontrollers: smallest within budget that fits",
                 ["Model", "Machine", "Device", "Quality budget", *(c.name for c in mcu.MCU_CLASSES)], rows, NOTE)


def footprint_table(runs: list[Run]) -> Table | None:
    """Each measured mode's arena (total, head, tail) and flash, and the classes it fits."""
    rows = []
    for a in _measured(runs):
        for c in a.cases:
            fp = mcu.footprint(c.info)
            if fp is None:
                continue
            met = within_budget(c)
            rows.append([a.model, a.run.label, a.device, c.mode, f"{fp['arena_bytes']:,}",
                         *(f"{fp[k]:,}" if isinstance(fp.get(k), int) else "-"
                           for k in ("arena_head_bytes", "arena_tail_bytes")),
                         f"{fp['flash_bytes']:,}", {True: "yes", False: "no", None: "-"}[met],
                         ", ".join(m.name for m in mcu.MCU_CLASSES if m.fits(fp)) or "none"])
    if not rows:
        return None
    return Table("Microcontrollers: tensor arena and flash per mode",
                 ["Model", "Machine", "Device", "Mode", "Arena (bytes)", "Head", "Tail", "Flash (bytes)",
                  "Within budget", "Fits (model only)"], rows,
                 "Arena: the smallest tensor arena that allocates (one byte less fails); head: TFLM's non-persistent "
                 "(planned activation) part, tail: its persistent part, as its recording allocator counts them. "
                 "Flash: the .tflite file's bytes. Fits ignores the quality budget; the verdict table above does not.")
