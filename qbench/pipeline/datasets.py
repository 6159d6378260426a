"""The session's datasets: each ``dataset=KIND[:PATH]`` read once, by its kind, at the size asked for."""

from __future__ import annotations

from qbench import data as datasets
from qbench.cache import Cache
from qbench.config.options import Settings
from qbench.data.base import Data
from qbench.pipeline.memo import Memo


class Datasets:
    """What a dataset kind receives (``qbench.data.base.DataContext``): the settings and the cache."""

    def __init__(self, settings: Settings, cache: Cache):
        self.settings, self.cache = settings, cache
        self._memo = Memo()

    def data(self, text: str, fit: tuple[int, ...] | None = None) -> Data:
        """The data of ``dataset=KIND[:PATH]`` (``fit``: the model's per-sample size, if known)."""
        kind, path = datasets.parse(text)
        return self._memo.get(("data", None, text, fit), lambda: kind.load(path, self, fit))

    def release(self, keep: str | None = None) -> None:
        self._memo.release(keep)
