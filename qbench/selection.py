"""The three axes (models, modes, devices) by stable string id, as the CLI and the plugin select them."""

from __future__ import annotations

from qbench import modes, runtime
from qbench.errors import QbenchError
from qbench.models import registry

AXES = {
    "models": lambda: list(registry.models()),
    "modes": lambda: list(modes.MODES),
    "devices": lambda: list(runtime.DEVICES),
}


def parse(axis: str, raw: str | None) -> list[str]:
    """Comma-separated ids (all when empty), refusing unknown ones with the list of valid ids."""
    valid = AXES[axis]()
    ids = [s.strip() for s in raw.split(",") if s.strip()] if raw else valid
    unknown = [i for i in ids if i not in valid]
    if unknown:
        raise QbenchError(f"unknown {axis} id(s): {', '.join(unknown)}", f"valid {axis}: {', '.join(valid)}")
    return ids


def add_user_models(options: list[str] | None) -> list[str]:
    """Register ``ID=PATH,...`` models (see qbench.models.imported); they join the models axis."""
    from qbench.models.imported import parse_model_option

    registry.models()  # built-ins first, so a clashing user id is the one refused
    return [registry.register(parse_model_option(text)).id for text in options or []]
