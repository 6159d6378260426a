"""The pipeline in one place: data -> source model -> convert(mode) -> cache -> Runner(device) -> measure.

A Workspace memoizes per process what a session needs more than once (datasets, eval sets, evaluation
results). It touches TensorFlow only when the cache misses: ``tflite()`` first looks its key up, and the
key is computed from specs and versions, never from a trained model's bytes.
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path
from typing import Any

from qbench import modes, runtime
from qbench.cache import Artifact, Cache
from qbench.data import mnist as mnist_data
from qbench.measure import evaluate
from qbench.models import registry
from qbench.models.registry import EvalSet, ModelSpec
from qbench.versions import build_versions, emulated, run_versions


class RunStage:
    """The run stage over an artifact source: subclasses serve ``model``, ``eval_set`` and ``tflite`` (the
    cache, building on a miss; or a bundle); ``runner``, ``evaluate`` and ``result_info`` are shared."""

    #: Evaluate only the first N samples (None: all). For slow targets such as an emulated CPU; results
    #: record ``eval_samples``, and only runs with the same N are comparable.
    eval_limit: int | None = None

    def __init__(self, cache):
        self.cache = cache
        self._memo: dict[tuple, Any] = {}

    def evaluation_set(self, model_id: str) -> EvalSet:
        data = self.eval_set(model_id)
        if self.eval_limit is None or self.eval_limit >= len(data.x):
            return data
        return EvalSet(data.x[: self.eval_limit], data.y[: self.eval_limit], data.num_classes, data.class_names)

    def _once(self, key: tuple, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # run stage
    def runner(self, model_id: str, mode_id: str, device_id: str) -> runtime.Runner:
        return runtime.open_runner(self.tflite(model_id, mode_id).path, runtime.get(device_id),
                                   label=f"{model_id} {mode_id}")

    def evaluate(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """Quality of one model x mode x device on the evaluation set (memoized for the session).

        Devices that end up running the same kernels with the same thread count compute the same thing:
        a model XNNPACK declines entirely (int16x8: 0 delegate partitions) runs the built-in kernels on
        ``xnnpack`` exactly as on ``builtin`` (``Runner.computation`` says what ran). Such devices share one
        evaluation; ``eval_device`` names the device whose run produced it.
        """
        spec = self.model(model_id)

        def run() -> dict[str, Any]:
            runner = self.runner(model_id, mode_id, device_id)
            return self._once(
                ("evaluate-kernels", model_id, mode_id, runner.computation),
                lambda: {**evaluate(runner, self.evaluation_set(model_id), spec.task, spec.eval_batch),
                         "eval_device": device_id},
            )

        return self._once(("evaluate", model_id, mode_id, device_id), run)

    def result_info(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """What every benchmark result carries in ``extra_info`` (the report and gate read these keys)."""
        artifact, baseline = self.tflite(model_id, mode_id), self.tflite(model_id, "float32")
        return {
            "qbench_schema": 1,
            "model": model_id,
            "task": self.model(model_id).task,
            "mode": mode_id,
            "device": device_id,
            "model_bytes": artifact.bytes,
            "size_ratio": artifact.bytes / baseline.bytes,
            "model_sha256": artifact.sha256,
            **self.evaluate(model_id, mode_id, device_id),
            "versions": {**run_versions(), "build": artifact.manifest.get("build_versions", {})},
            "arch": platform.machine(),
            "emulated": emulated(),
        }


class Workspace(RunStage):
    def __init__(self, cache: Cache, mnist_source: Path | str | None = None, options: dict[str, Any] | None = None):
        super().__init__(cache)
        self.mnist_source = mnist_source
        self.options = options or {}

    # data
    def mnist(self) -> mnist_data.Mnist:
        return self._once(("mnist",), lambda: mnist_data.load(self.cache, self.mnist_source))

    def model(self, model_id: str) -> ModelSpec:
        return registry.get(model_id)

    def eval_set(self, model_id: str) -> EvalSet:
        return self._once(("eval", model_id), lambda: self.model(model_id).eval_set(self))

    # build stage (cached)
    def source(self, model_id: str) -> Artifact:
        spec = self.model(model_id)
        return self._once(
            ("source", model_id),
            lambda: self.cache.get_or_build(
                "source", spec.key_parts(self), spec.source_filename,
                lambda path: spec.build_source(self, path), label=f"{model_id} source model",
            ),
        )

    def tflite_key(self, model_id: str, mode_id: str) -> dict[str, Any]:
        spec = self.model(model_id)
        return {
            "source": spec.key_parts(self),
            "mode": mode_id,
            "converter": spec.converter_args(),
            "versions": build_versions(),
        }

    def tflite(self, model_id: str, mode_id: str) -> Artifact:
        spec, mode = self.model(model_id), modes.get(mode_id)

        def build(path: Path) -> dict[str, Any]:
            from qbench.convert import convert

            source = self.source(model_id)
            calibration = spec.calibration(self) if mode.calibrated else None
            path.write_bytes(convert(source.path, spec.source_format, mode, calibration, **spec.converter_args()))
            return {
                "model": model_id,
                "mode": mode_id,
                "source_sha256": source.sha256,
                "calibration_samples": 0 if calibration is None else len(calibration),
                "calibration_sha256": None if calibration is None else hashlib.sha256(calibration.tobytes()).hexdigest(),
                "build_versions": build_versions(),
            }

        return self._once(
            ("tflite", model_id, mode_id),
            lambda: self.cache.get_or_build(
                "tflite", self.tflite_key(model_id, mode_id), f"{model_id}-{mode_id}.tflite", build,
                label=f"{model_id} {mode_id}.tflite",
            ),
        )


def open_workspace(
    cache: str | Path | None = None,
    mnist: str | Path | None = None,
    user_models: list[str] | None = None,
    seg_size: str | None = None,
    cityscapes: str | Path | None = None,
    cityscapes_frames: int = 60,
    seg_alpha: str | None = None,
) -> Workspace:
    """A Workspace from command-line style settings, checking them before anything is built."""
    from qbench import selection
    from qbench.models.deeplab_scenes import parse_alpha, parse_size

    selection.add_user_models(user_models)
    parse_size(seg_size)  # a bad setting is one clear error, not a failure in every segmentation case
    parse_alpha(seg_alpha)
    options = {"seg_size": seg_size, "seg_alpha": seg_alpha, "cityscapes": cityscapes,
               "cityscapes_frames": cityscapes_frames}
    return Workspace(Cache(cache), mnist_source=mnist, options=options)
