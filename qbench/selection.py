"""The three axes (models, modes, devices) by stable string id, as the CLI and the plugin select them.

Each axis has a default selection, sized for a quick answer to the thesis's question, and ``all``:
- models: the two built-in ones (and any --qbench-model); pretrained models, whose first use downloads wheels,
  only when asked for;
- modes: the thesis's four (float32, dynamic, float16, int8 with uint8 I/O);
- devices: what a user deploys to: LiteRT's default (XNNPACK) on one core and on all cores.
``--qbench-modes all --qbench-devices all --qbench-models all`` runs the whole matrix.
"""

from __future__ import annotations

from qbench import modes, runtime
from qbench.errors import QbenchError
from qbench.models import registry

ALL = "all"
AXES = {  # axis -> {id: in the default selection}
    "models": lambda: {m.id: m.default for m in registry.models().values()},
    "modes": lambda: {m: mode.default for m, mode in modes.MODES.items()},
    "devices": lambda: {d: device.default for d, device in runtime.DEVICES.items()},
}


def parse(axis: str, raw: str | None) -> list[str]:
    """Comma-separated ids (the default selection when empty, every id for ``all``), refusing unknown ones with
    the list of valid ids."""
    known = AXES[axis]()
    if not raw:
        return [i for i, default in known.items() if default]
    ids = [s.strip() for s in raw.split(",") if s.strip()]
    if ALL in ids:
        return list(known)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise QbenchError(f"unknown {axis} id(s): {', '.join(unknown)}",
                          f"valid {axis}: {', '.join(known)} (or {ALL})")
    return ids


def add_user_models(options: list[str] | None) -> list[str]:
    """Register ``ID=PATH,...`` models (see qbench.models.imported); they join the models axis."""
    from qbench.models.imported import parse_model_option

    registry.models()  # built-ins first, so a clashing user id is the one refused
    return [registry.register(parse_model_option(text)).id for text in options or []]
