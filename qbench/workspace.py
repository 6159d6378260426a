"""The pipeline in one place: data -> source model -> convert(mode) -> cache -> Runner(device) -> task -> measure.

A Workspace memoizes per process what a session needs more than once (datasets, eval sets, evaluation
results). It touches TensorFlow only when the cache misses: ``tflite()`` first looks its key up, and the
key is computed from specs, settings and versions, never from a trained model's bytes.
"""

from __future__ import annotations

import ctypes
import gc
import platform
import time
from typing import Any

from qbench import evaluations, modes, quantizers, runtime, tasks
from qbench.cache import Artifact, Cache, make_key
from qbench.data import mnist as mnist_data
from qbench.data import registry as datasets
from qbench.data.base import Data, EvalSet
from qbench.measure import Evaluation, evaluate
from qbench.models import registry
from qbench.models.registry import ModelSpec
from qbench.options import Settings
from qbench.tasks.base import OutputInfo, Task, Verdict
from qbench.tflite_file import TfliteModel
from qbench.versions import emulated, run_versions

REFERENCE_MODE = "float32"  # what every mode's quality, size and fidelity is judged against


class RunStage:
    """The run stage over an artifact source: subclasses serve ``model``, ``eval_set`` and ``tflite`` (the
    cache, building on a miss; or a bundle); ``runner``, ``evaluate``, ``verdict`` and ``result_info`` are shared."""

    #: Evaluate only the first N samples (None: all). For slow targets such as an emulated CPU; results
    #: record ``eval_samples``, and only runs with the same N are comparable.
    eval_limit: int | None = None
    #: Whether a qbench.warmup worker of this session imported TensorFlow (to build what the cache lacked).
    helpers_imported_tensorflow: bool = False
    #: Evaluations running at once while this process evaluates (qbench.warmup's pool): eval_fps shares the CPU.
    concurrent_evaluations: int = 1

    def __init__(self, cache, settings: Settings | None = None, eval_cache: Cache | None = None):
        self.cache = cache
        self.settings = settings if settings is not None else Settings()
        self.eval_cache = eval_cache  # where evaluation results are kept (None: evaluate every session)
        self.reevaluate = bool(self.settings.get("reevaluate"))
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # what "this session" means
        self._memo: dict[tuple, Any] = {}

    def _once(self, key: tuple, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    #: memo entries small enough to keep for the whole session (artifact handles, digests, keys)
    _LIGHT_MEMO = frozenset({"tflite", "data-digest", "evaluation-key", "source-info"})

    def release(self, keep: str | None = None) -> None:
        """Drop what this session memoized for models other than ``keep``: evaluation sets, predictions,
        calibration data, parsed models. The plugin calls it when the cases move on to another model, so that
        a model is not measured with another one's data resident (the scenes' evaluation set alone is ~100 MB,
        twice a MNIST case's whole peak RSS); whatever is needed again is made again on demand."""
        self._memo = {k: v for k, v in self._memo.items()
                      if k[0] in self._LIGHT_MEMO or (len(k) > 1 and k[1] == keep)}
        gc.collect()
        _return_free_memory()

    def task(self, model_id: str) -> Task:
        return tasks.get(self.model(model_id).task)

    def evaluation_set(self, model_id: str) -> EvalSet:
        return self.eval_set(model_id).head(self.eval_limit)

    def prepare(self, model_id: str) -> None:
        """Load and check a model's evaluation data now, so that a bad dataset is one error before any case runs."""
        self.eval_set(model_id)

    # run stage
    def runner(self, model_id: str, mode_id: str, device_id: str) -> runtime.Runner:
        return runtime.open_runner(self.tflite(model_id, mode_id).path, runtime.get(device_id),
                                   label=f"{model_id} {mode_id}")

    def evaluation(self, model_id: str, mode_id: str, device_id: str) -> Evaluation:
        """One model x mode x device on the evaluation set, scored by its task: from the evaluation cache
        (``qbench.evaluations``) when it holds it, else computed and stored; memoized for the session.

        Devices that end up running the same kernels with the same thread count compute the same thing:
        a model XNNPACK declines entirely (int16x8: 0 delegate partitions) runs the built-in kernels on
        ``xnnpack`` exactly as on ``builtin`` (``Runner.computation`` says what ran). Such devices share one
        evaluation; ``eval_device`` names the device whose run produced it. Only float32's predictions are kept
        (every other mode's agreement and fidelity are scored against them); other modes keep their numbers.
        """

        def run() -> Evaluation:
            parts = self.evaluation_key(model_id, mode_id, device_id)

            def measure() -> Evaluation:
                reference = None if mode_id == REFERENCE_MODE else self.evaluation(model_id, REFERENCE_MODE, device_id)

                def compute() -> Evaluation:
                    with self.runner(model_id, mode_id, device_id) as runner:
                        done = evaluate(runner, self.evaluation_set(model_id), self.task(model_id),
                                        self.model(model_id).eval_batch,
                                        None if reference is None else reference.predictions)
                    return Evaluation({**done.result, "eval_device": device_id,
                                       "eval_concurrency": self.concurrent_evaluations},
                                      done.predictions if mode_id == REFERENCE_MODE else None)

                if self.eval_cache is None:  # a bundle without --qbench-cache: evaluate every session
                    done = compute()
                    return Evaluation({**done.result, "eval_cached": False}, done.predictions, make_key(parts))
                artifact = self.eval_cache.get_or_build(
                    "eval", parts, evaluations.FILENAME, lambda path: evaluations.write(path, compute()),
                    label=f"evaluation of {model_id} {mode_id} on {device_id}",
                    stale=self._stale if self.reevaluate else None)
                done = evaluations.read(artifact, fresh=not self._stale(artifact))
                return Evaluation(done.result, done.predictions, make_key(parts))

            return self._once(("evaluate-kernels", model_id, mode_id, tuple(parts["computation"])), measure)

        return self._once(("evaluate", model_id, mode_id, device_id), run)

    def evaluation_key(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """What determines this evaluation's results (``qbench.evaluations.key``); loads a runner once to learn
        what computes on the device."""

        def make() -> dict[str, Any]:
            with self.runner(model_id, mode_id, device_id) as runner:
                computation = runner.computation
            reference = None
            if mode_id != REFERENCE_MODE:
                reference = make_key(self.evaluation_key(model_id, REFERENCE_MODE, device_id))
            return evaluations.key(self.tflite(model_id, mode_id), computation, self.data_digest(model_id),
                                   self.eval_limit, self.task(model_id), reference)

        return self._once(("evaluation-key", model_id, mode_id, device_id), make)

    def evaluation_cached(self, model_id: str, mode_id: str, device_id: str) -> bool:
        """Whether the evaluation cache holds this evaluation (and --qbench-reevaluate does not want it again)."""
        if self.eval_cache is None:
            return False
        artifact = self.eval_cache.lookup("eval", self.evaluation_key(model_id, mode_id, device_id))
        return artifact is not None and not (self.reevaluate and self._stale(artifact))

    def _stale(self, artifact: Artifact) -> bool:
        """Made before this session started (what --qbench-reevaluate recomputes; what eval_cached reports)."""
        return artifact.manifest.get("created", "") < self.started

    def data_digest(self, model_id: str) -> str:
        data = self.evaluation_set(model_id)
        return self._once(("data-digest", model_id, self.eval_limit), lambda: evaluations.data_digest(data.x, data.y))

    # for qbench.warmup: what a worker process needs to make this workspace again, and what is already built
    builds_artifacts = False

    def recipe(self) -> tuple:
        """``(function, args)``: ``function(*args)`` in another process makes this workspace again."""
        return (type(self).remade, (self._recipe_args(), self.eval_limit, self.started))

    @classmethod
    def remade(cls, args: tuple, eval_limit: int | None, started: str) -> RunStage:
        ws = cls._reopen(*args)
        ws.eval_limit, ws.started = eval_limit, started
        return ws

    @classmethod
    def _reopen(cls, *args: Any) -> RunStage:
        return cls(*args)

    def _recipe_args(self) -> tuple:
        raise NotImplementedError

    def tflite_cached(self, model_id: str, mode_id: str) -> bool:
        return True

    def evaluate(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """The quality numbers of one model x mode x device (see ``evaluation``)."""
        return self.evaluation(model_id, mode_id, device_id).result

    def verdict(self, model_id: str, mode_id: str, device_id: str) -> Verdict:
        """The task's quality rules for this mode's family, against float32 on the same device."""
        mode, spec = modes.get(mode_id), self.model(model_id)
        return self.task(model_id).judge(
            self.evaluate(model_id, mode_id, device_id), self.evaluate(model_id, REFERENCE_MODE, device_id),
            mode.family, spec.floors_for(self), is_reference=mode_id == REFERENCE_MODE,
        )

    def result_info(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """What every benchmark result carries in ``extra_info`` (the report and gate read these keys)."""
        artifact, baseline = self.tflite(model_id, mode_id), self.tflite(model_id, REFERENCE_MODE)
        return {
            "qbench_schema": 1,
            "model": model_id,
            "task": self.model(model_id).task,
            "mode": mode_id,
            "family": modes.get(mode_id).family,
            "device": device_id,
            "model_bytes": artifact.bytes,
            "size_ratio": artifact.bytes / baseline.bytes,
            "model_sha256": artifact.sha256,
            **self.source_info(model_id),
            **self.evaluate(model_id, mode_id, device_id),
            **self.verdict(model_id, mode_id, device_id).info(),
            "versions": {**run_versions(), "build": artifact.manifest.get("build_versions", {})},
            "arch": platform.machine(),
            "emulated": emulated(),
            **({"kept_layers": artifact.manifest["kept_layers"], "budget_searched": artifact.manifest[
                "budget_search"]["budget"]} if "kept_layers" in artifact.manifest else {}),
            **self.explain_info(model_id, mode_id),
        }

    def source_info(self, model_id: str) -> dict[str, Any]:
        """Where the model came from (``source``: shipped | trained | imported | pretrained) and the sha256 of the
        file every mode was made from (``weights_sha256``)."""
        raise NotImplementedError

    def explain_info(self, model_id: str, mode_id: str) -> dict[str, Any]:
        """The worst layers of a quantized mode (``extra_info["explain"]``) under ``--qbench-explain``; the build
        machine's Workspace computes them (``qbench.explain``), a bundle carries none."""
        return {}

    # what a model's files contain (no TensorFlow, no interpreter)
    def tflite_model(self, model_id: str, mode_id: str) -> TfliteModel:
        return TfliteModel.read(self.tflite(model_id, mode_id).path)

    def float_reference(self, model_id: str, mode_id: str) -> bytes:
        """The float model a mode starts from (its backend says which; a +budget mode's is its lossy mode's): what
        its size is predicted from and its layers are explained against."""
        mode = modes.get(mode_id)
        origin = modes.get(mode.base) if mode.base else mode
        return quantizers.get(origin.backend).size_reference(self, model_id)

    def size_reference(self, model_id: str, mode_id: str) -> TfliteModel:
        """The float model a mode starts from, for size prediction."""
        return TfliteModel(self.float_reference(model_id, mode_id), f"{model_id} float model for {mode_id}")

    def float_model(self, model_id: str) -> TfliteModel:
        return self._once(("float-model", model_id), lambda: self.tflite_model(model_id, REFERENCE_MODE))

    def input_shape(self, model_id: str) -> tuple[int, ...]:
        """Per-sample shape of the model's (first) input."""
        return tuple(self.float_model(model_id).inputs[0].shape[1:])

    def output_info(self, model_id: str) -> list[OutputInfo]:
        return [OutputInfo(t.name, tuple(t.shape[1:]), None) for t in self.float_model(model_id).outputs]


class Workspace(RunStage):
    """The build machine's run stage: artifacts from the content-addressed cache, built when missing."""

    def __init__(self, cache: Cache, settings: Settings | None = None):
        from qbench import settings as declared

        super().__init__(cache, settings if settings is not None else declared.defaults(), eval_cache=cache)

    # data
    def mnist(self) -> mnist_data.Mnist:
        return self._once(("mnist",), lambda: mnist_data.load(self.cache, self.settings.get("mnist")))

    def dataset(self, text: str, fit: tuple[int, ...] | None = None) -> Data:
        """The data of ``dataset=KIND[:PATH]`` (read once per session); ``fit``: the model's size, if known."""
        kind, path = datasets.parse(text)
        return self._once(("data", text, fit), lambda: kind.load(path, self, fit))

    def model(self, model_id: str) -> ModelSpec:
        return registry.get(model_id)

    def eval_set(self, model_id: str) -> EvalSet:
        return self._once(("eval", model_id), lambda: self.model(model_id).eval_set(self))

    builds_artifacts = True

    def _recipe_args(self) -> tuple:
        return (self.settings,)

    @classmethod
    def _reopen(cls, settings: Settings) -> Workspace:
        return open_workspace(settings)  # with the user's models registered again

    def tflite_cached(self, model_id: str, mode_id: str) -> bool:
        """Whether the cache holds the artifact (building nothing; NotApplicable if the mode cannot apply)."""
        mode = modes.get(mode_id)
        if mode.backend == "aeq" and not self.tflite_cached(model_id, REFERENCE_MODE):
            return False  # its key and its applicability are read from the float32 file
        backend = quantizers.get(mode.backend)
        backend.check(self, model_id, mode)
        return self.cache.lookup("tflite", backend.key(self, model_id, mode)) is not None

    def calibration_set(self, model_id: str):
        return self._once(("calibration", model_id), lambda: self.model(model_id).calibration(self))

    # build stage (cached)
    def source(self, model_id: str) -> Artifact:
        """The model as trained or imported (Keras, SavedModel tar, frozen graph, .tflite), cached."""
        spec = self.model(model_id)
        return self._once(
            ("source", model_id),
            lambda: self.cache.get_or_build(
                "source", spec.key_parts(self), spec.source_filename,
                lambda path: spec.build_source(self, path), label=f"{model_id} source model",
            ),
        )

    def source_info(self, model_id: str) -> dict[str, Any]:
        def make() -> dict[str, Any]:
            spec = self.model(model_id)
            parts = spec.key_parts(self)
            artifact = self.cache.lookup("source", parts)
            origin = (artifact.manifest.get("origin") if artifact else None) or parts.get("origin") or spec.origin
            return {"source": origin, "weights_sha256": artifact.sha256 if artifact else parts.get("sha256")}

        return self._once(("source-info", model_id), make)

    def tflite(self, model_id: str, mode_id: str) -> Artifact:
        """The model's .tflite in one mode, from the cache or built by the mode's backend. Raises NotApplicable
        (the case skips with the reason) when the mode cannot apply to the model; that verdict is cached too."""
        mode = modes.get(mode_id)
        backend = quantizers.get(mode.backend)

        def make() -> Artifact:
            backend.check(self, model_id, mode)
            return self.cache.get_or_build(
                "tflite", backend.key(self, model_id, mode), f"{model_id}-{mode_id}.tflite",
                lambda path: backend.build(self, model_id, mode, path), label=f"{model_id} {mode_id}.tflite",
            )

        return self._once(("tflite", model_id, mode_id), make)

    def explain_info(self, model_id: str, mode_id: str) -> dict[str, Any]:
        if not self.settings.get("explain") or mode_id == REFERENCE_MODE:
            return {}
        from qbench.explain.cached import explanation

        return {"explain": explanation(self, model_id, mode_id).result_info()}


def open_workspace(settings: Settings | None = None, **given: Any) -> Workspace:
    """A Workspace from parsed settings (or the defaults with ``given`` on top), its user models registered."""
    from qbench import selection
    from qbench import settings as declared

    settings = settings if settings is not None else declared.defaults(**given)
    selection.add_user_models(settings.get("model"))
    return Workspace(Cache(settings.get("cache")), settings)


def _return_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise, and they count in RSS)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
