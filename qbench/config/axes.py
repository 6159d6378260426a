"""The three axes (models, modes, devices) by stable string id, as the CLI and the plugin select them.

Each axis has a default selection, sized for a quick answer to the thesis's question, and ``all``:
- models: the two built-in ones (and any --qbench-model); pretrained models, whose first use downloads wheels,
  only when asked for;
- modes: the thesis's four (float32, dynamic, float16, int8 with uint8 I/O);
- devices: what a user deploys to: LiteRT's default (XNNPACK) on one core and on all cores.
``--qbench-modes all --qbench-devices all --qbench-models all`` runs the whole matrix.
"""

from __future__ import annotations

from qbench.errors import QbenchError

ALL = "all"
AXES = ("models", "modes", "devices")


def known(axis: str, models: dict[str, bool]) -> dict[str, bool]:
    """Every id of ``axis`` and whether it is in the default selection (``models``: the session catalog's)."""
    from qbench.modes import MODES
    from qbench.runtime import DEVICES

    if axis == "models":
        return models
    table = MODES if axis == "modes" else DEVICES
    return {i: entry.default for i, entry in table.items()}


def parse(axis: str, raw: str | None, ids: dict[str, bool]) -> list[str]:
    """Comma-separated ids of ``ids`` (the default selection when empty, every id for ``all``), refusing unknown ones
    with the list of valid ids."""
    if not raw:
        return [i for i, default in ids.items() if default]
    chosen = [s.strip() for s in raw.split(",") if s.strip()]
    if ALL in chosen:
        return list(ids)
    unknown = [i for i in chosen if i not in ids]
    if unknown:
        raise QbenchError(f"unknown {axis} id(s): {', '.join(unknown)}",
                          f"valid {axis}: {', '.join(ids)} (or {ALL})")
    return chosen
