"""``qbench weights``: whether the shipped reference weights still match the training recipe, and regenerating them.

Regenerating trains each model from scratch on this machine with the suite's own training code (what
``--qbench-retrain`` does), converts it to float32, evaluates it with LiteRT on XNNPACK, and writes the Keras file and
its manifest into ``qbench/models/weights/<model>/``: the recipe and its digest, the TensorFlow / Keras versions, the
machine, what training reported and the float32 quality, so that any later run can be checked against it.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from qbench import machine, tasks
from qbench.errors import QbenchError
from qbench.modes import REFERENCE_MODE
from qbench.models import shipped as shipped_weights
from qbench.models.trained import TrainedModel
from qbench.versions import build_versions, run_versions

MATCHES = "matches the current recipe"
REFERENCE_DEVICE = "xnnpack"  # LiteRT's default CPU target, where the manifest's float32 quality is computed


def trained_models(model_ids: list[str] | None) -> list[TrainedModel]:
    """The built-in models whose weights ship (all of them when ``model_ids`` is empty)."""
    from qbench.models import MODELS

    found = {m.id: m for m in MODELS.values() if isinstance(m, TrainedModel)}
    unknown = [m for m in model_ids or [] if m not in found]
    if unknown:
        raise QbenchError(f"no shipped weights for {', '.join(unknown)}: only the built-in trained models have them",
                          f"choose from {', '.join(found)}")
    return [found[m] for m in model_ids] if model_ids else list(found.values())


def status(session, model_ids: list[str] | None = None) -> list[str]:
    """One line per model: do its shipped weights match the current recipe (and if not, what differs)?"""
    lines = []
    context = session.artifacts.context
    for spec in trained_models(model_ids):
        found = spec.shipped()
        if found is None:
            lines.append(f"{spec.id}: no shipped weights; regenerate: {shipped_weights.REGENERATE} {spec.id}")
            continue
        head = f"{spec.id}: {found.path.relative_to(shipped_weights.WEIGHTS.parent.parent.parent)} sha256 " \
               f"{found.sha256[:16]}, trained {found.manifest.get('created', '?')}"
        problem = shipped_weights.mismatch(found, spec.recipe(context))
        lines.append(f"{head}: {problem or MATCHES}")
    return lines


def regenerate(settings, model_ids: list[str] | None = None) -> list[shipped_weights.Shipped]:
    """Train, convert, evaluate and ship each model (see the module docstring); ``settings`` are the CLI's."""
    from qbench.pipeline import open_session

    session = open_session(settings.replace(retrain=True))
    artifacts, evaluator, context = session.artifacts, session.evaluator, session.artifacts.context
    written = []
    for spec in trained_models(model_ids):
        if not spec.ships(settings):
            raise QbenchError(f"{spec.id}: only the default variant ships (this one is set by --seg-size/--seg-alpha)",
                              "drop --seg-size / --seg-alpha")
        recipe = spec.recipe(context)
        source = artifacts.source(spec.id)
        float32 = artifacts.tflite(spec.id, REFERENCE_MODE)
        result = evaluator.result(spec.id, REFERENCE_MODE, REFERENCE_DEVICE)
        task = tasks.get(spec.task)
        facts = machine.describe()
        manifest: dict[str, Any] = {
            "recipe": recipe,
            "recipe_digest": shipped_weights.recipe_digest(recipe),
            "architecture": spec.architecture(context),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": {**build_versions(), **run_versions()},
            "machine": {"host": platform.node(), "arch": facts["arch"], "cpu_model": facts["cpu_model"],
                        "isa_flags": facts["isa_flags"], "cores": facts["cores"]},
            "training": source.manifest.get("training", {}),
            "float32": {
                "device": REFERENCE_DEVICE,
                "arch": facts["arch"],
                "isa_flags": facts["isa_flags"],
                "tflite_sha256": float32.sha256,
                "eval_samples": result["eval_samples"],
                "eval_data": evaluator.data_digest(spec.id),
                "quality": {m.key: result[m.key] for m in task.metrics if m.key in result},
            },
        }
        written.append(shipped_weights.write(spec.id, source.path, manifest))
    return written
