"""The models of one session: the built-in ones (``qbench.models.MODELS``) and the user's, an instance per session.

A user's ``--qbench-model ID=PATH,...`` joins this session's catalog only: no process-wide registry changes, so two
sessions in one process (a test beside the plugin's own) see their own models.
"""

from __future__ import annotations

from typing import Iterable

from qbench.errors import QbenchError, lookup
from qbench.models.base import ModelSpec


class Catalog:
    def __init__(self, builtin: Iterable[ModelSpec], user: Iterable[ModelSpec] = ()):
        self._models: dict[str, ModelSpec] = {m.id: m for m in builtin}
        for spec in user:
            if spec.id in self._models:
                raise QbenchError(f"model id {spec.id!r} is registered twice", "give each model its own id")
            self._models[spec.id] = spec

    @classmethod
    def with_user_models(cls, options: Iterable[str] = (), extra: Iterable[ModelSpec] = ()) -> Catalog:
        """The built-in models and the user's (``ID=PATH,key=value...``, see ``qbench.models.imported``), and
        ``extra`` specs."""
        from qbench.models import MODELS
        from qbench.models.imported import parse_model_option

        return cls(MODELS.values(), [*(parse_model_option(text) for text in options or ()), *extra])

    def get(self, model_id: str) -> ModelSpec:
        return lookup(self._models, model_id, "model")

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def ids(self) -> list[str]:
        return list(self._models)

    def defaults(self) -> dict[str, bool]:
        """Each model's id and whether it is in the default selection."""
        return {m.id: m.default for m in self._models.values()}

    def values(self) -> list[ModelSpec]:
        return list(self._models.values())
