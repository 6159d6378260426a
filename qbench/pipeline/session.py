"""A session: the services of one run, constructed once from its settings by the pytest plugin or the CLI.

Who constructs whom (data flows one way, dataset -> model -> .tflite -> runner -> measure -> result)::

    Settings ──► Cache, Catalog (built-in + the user's models)
             ──► Datasets(settings, cache)                          dataset kinds get a DataContext
             ──► Artifacts(cache, catalog, datasets)                models get a ModelContext, backends BuildInputs
             ──► Evaluator(artifacts, eval cache, limit)            runtimes get a model file and a device
             ──► Results(artifacts, evaluator[, Explainer])         tasks get outputs, labels, float32's outputs

A bundle's session (``qbench.bundle``) has the same shape with the bundle's files in place of Datasets + Artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from qbench.cache import Cache
from qbench.config.axes import known, parse
from qbench.config.options import Settings
from qbench.models.base import ModelSpec
from qbench.pipeline.catalog import Catalog
from qbench.pipeline.evaluator import Evaluator
from qbench.pipeline.memo import return_free_memory
from qbench.pipeline.results import Results


@dataclass
class Session:
    settings: Settings
    cache: Cache  # where artifacts are (a bundle: its folder)
    catalog: Catalog
    artifacts: Any  # qbench.pipeline.artifacts.Artifacts, or a bundle's
    evaluator: Evaluator
    results: Results
    #: ``(function, args, kwargs)``: ``function(*args, **kwargs)`` in another process makes this session again
    remake: tuple[Callable[..., Session], tuple, dict]
    #: what a run may select from, per axis, when it is not everything the registries know (a bundle's contents)
    held: dict[str, list[str]] | None = None

    @property
    def builds(self) -> bool:
        """Whether missing artifacts are built (a bundle's are not)."""
        return self.artifacts.builds

    def select(self, axis: str, raw: str | None) -> list[str]:
        """The ids a run selects on ``axis`` (``--qbench-models``...); a bundle's defaults are what it holds."""
        ids = parse(axis, raw, known(axis, self.catalog.defaults()))
        if self.held is None or axis not in self.held:
            return ids
        if not raw:
            return self.held[axis]
        from qbench.errors import QbenchError

        if missing := [i for i in ids if i not in self.held[axis]]:
            raise QbenchError(f"{self.cache.root} has no {axis} {', '.join(missing)}; it has "
                              f"{', '.join(self.held[axis])}",
                              f"select among those, or write a bundle with them: `qbench build --{axis} "
                              f"{','.join(ids)} --out DIR`")
        return ids

    def built(self) -> list[str]:
        """The cache entries ("kind/key") this process built: artifacts, and evaluations where they are kept."""
        caches = [self.cache] + [c for c in (self.evaluator.eval_cache,) if c is not None and c is not self.cache]
        return [entry for cache in caches for entry in cache.built]

    def release(self, keep: str | None = None) -> None:
        """Drop what this session keeps for models other than ``keep`` (evaluation sets, predictions, calibration):
        a model is not measured with another one's data resident (the scenes' evaluation set alone is ~100 MB)."""
        self.artifacts.release(keep)
        self.evaluator.release(keep)
        return_free_memory()

    def remade(self, concurrency: int) -> tuple[Callable[..., Session], tuple, dict]:
        """How a warm-up worker makes this session again, knowing how many evaluations run at once."""
        function, args, kwargs = self.remake
        return function, args, {**kwargs, "concurrency": concurrency}


def open_session(settings: Settings | None = None, *, models: Iterable[ModelSpec] = (), started: str | None = None,
                 concurrency: int = 1, **given: Any) -> Session:
    """The build machine's session from parsed settings (or the defaults with ``given`` on top); ``models``: specs
    to add to this session's catalog besides the built-in and ``--qbench-model`` ones (a test's own model)."""
    from qbench import config
    from qbench.pipeline.artifacts import Artifacts
    from qbench.pipeline.datasets import Datasets

    settings = settings if settings is not None else config.defaults(**given)
    cache = Cache(settings.get("cache"))
    catalog = Catalog.with_user_models(settings.get("model"), extra=models)
    artifacts = Artifacts(cache, catalog, Datasets(settings, cache))
    evaluator = Evaluator(artifacts, cache, settings.get("eval_limit"), bool(settings.get("reevaluate")), started,
                          concurrency)
    explainer = None
    if settings.get("explain"):
        from qbench.repair.explainer import Explainer

        explainer = Explainer(artifacts)
    return Session(settings, cache, catalog, artifacts, evaluator, Results(artifacts, evaluator, explainer),
                   (open_session, (settings,), {"started": evaluator.started, "models": tuple(models)}))
