"""What every benchmark result carries in ``extra_info`` (the report, the gate and the store read these keys)."""

from __future__ import annotations

import platform
from typing import Any

from qbench.modes import get as mode_of
from qbench.modes import is_reference, reference_of
from qbench.pipeline.evaluator import Evaluator
from qbench.versions import emulated, run_versions

SCHEMA = 1


class Results:
    def __init__(self, artifacts, evaluator: Evaluator, explainer=None):
        """``explainer`` (a ``qbench.repair.explainer.Explainer``): results of quantized modes carry their worst
        layers (``--qbench-explain``); None: they carry none."""
        self.artifacts, self.evaluator, self.explainer = artifacts, evaluator, explainer

    def info(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        artifact, baseline = self.artifacts.tflite(model_id, mode_id), self.artifacts.tflite(model_id, reference_of(mode_id))
        return {
            "qbench_schema": SCHEMA,
            "model": model_id,
            "task": self.artifacts.spec(model_id).task,
            "mode": mode_id,
            "family": mode_of(mode_id).family,
            "device": device_id,
            "model_bytes": artifact.bytes,
            "size_ratio": artifact.bytes / baseline.bytes,
            "model_sha256": artifact.sha256,
            **self.artifacts.source_info(model_id),
            **self.evaluator.result(model_id, mode_id, device_id),
            **self.evaluator.verdict(model_id, mode_id, device_id).info(),
            "versions": {**run_versions(), "build": artifact.manifest.get("build_versions", {})},
            "arch": platform.machine(),
            "emulated": emulated(),
            **({"kept_layers": artifact.manifest["kept_layers"], "budget_searched": artifact.manifest[
                "budget_search"]["budget"]} if "kept_layers" in artifact.manifest else {}),
            **({"fine_tune": artifact.manifest["fine_tune"]} if "fine_tune" in artifact.manifest else {}),
            **({"twin": mode_of(mode_id).twin} if mode_of(mode_id).twin else {}),  # the report's side-by-side pair
            **self._explain(model_id, mode_id),
        }

    def _explain(self, model_id: str, mode_id: str) -> dict[str, Any]:
        if self.explainer is None or is_reference(mode_id) or mode_of(mode_id).format != "tflite":
            return {}  # the explainer taps a .tflite's intermediate tensors (qbench.runtime.tapped)
        return {"explain": self.explainer.explanation(model_id, mode_id).result_info()}
