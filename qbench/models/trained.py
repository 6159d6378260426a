"""A built-in model the suite trains itself, whose reference weights ship with it (``qbench.models.shipped``).

Such a model says what its training recipe is (``recipe``: hyper-parameters, data, architecture, training code) and
how to train (``train``). Where does its source model come from?

- ``shipped``: the default variant, when the shipped manifest's recipe digest equals the current code's. The source
  is the shipped file, copied into the cache; nothing is trained or rendered for training. Its cache key is the
  file's sha256, so every machine converts the very same model.
- ``trained``: ``--qbench-retrain`` (``qbench build --retrain``), a variant that does not ship (another segmentation
  size or width), or a recipe that no longer matches the shipped weights (qbench says which part changed). Keyed by
  the recipe and the build versions, as before.
"""

from __future__ import annotations

import shutil
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable

from qbench import progress
from qbench.cache import function_digest
from qbench.models import shipped as shipped_weights
from qbench.models.base import ModelContext, ModelSpec
from qbench.versions import build_versions

_WARNED: set[tuple[str, str]] = set()


class TrainedModel(ModelSpec):
    """See the module docstring. A subclass declares its recipe's parts and how to train."""

    #: the functions whose code is the training loop (digested by ``function_digest``, see ``recipe``)
    training_code: tuple[Callable, ...] = ()

    @abstractmethod
    def hyper(self, ctx: ModelContext) -> dict[str, Any]:
        """Hyper-parameters and seed, as values."""

    @abstractmethod
    def training_data(self, ctx: ModelContext) -> dict[str, Any]:
        """Digests of the training data's content (not of the code that makes it)."""

    @abstractmethod
    def builder(self, ctx: ModelContext) -> tuple[Callable, dict[str, Any]]:
        """The function that builds the untrained Keras model, and its keyword arguments for this variant."""

    @abstractmethod
    def train(self, ctx: ModelContext, path: Path) -> dict[str, Any]:
        """Train from scratch and save the model at ``path``; return what training reported (for the manifest)."""

    def training_digest(self, ctx: ModelContext) -> dict[str, Any]:
        return self.training_data(ctx)

    def architecture(self, ctx: ModelContext) -> dict[str, Any]:
        """``{"code", "kwargs", "digest"}``: the builder's code digest and the digest of what it builds."""
        build, kwargs = self.builder(ctx)
        code = function_digest(build)
        found = self.shipped()
        digest = shipped_weights.architecture(f"{build.__module__}:{build.__name__}", kwargs, code, ctx.cache,
                                              found.manifest.get("architecture") if found else None)
        return {"code": code, "kwargs": kwargs, "digest": digest}

    def recipe(self, ctx: ModelContext) -> dict[str, Any]:
        """What shapes the trained weights; its digest decides whether the shipped weights apply."""
        return {"hyper": self.hyper(ctx), "data": self.training_data(ctx), "architecture": self.architecture(ctx)["digest"],
                "training": function_digest(*self.training_code)}

    def ships(self, settings) -> bool:
        """Whether this run's variant of the model is the one whose weights ship."""
        return True

    def shipped(self) -> shipped_weights.Shipped | None:
        return shipped_weights.load(self.id)

    def weights(self, ctx: ModelContext) -> shipped_weights.Shipped | None:
        """The shipped weights this run uses, or None when it trains (see the module docstring)."""
        if ctx.settings.get("retrain") or not self.ships(ctx.settings):
            return None
        found = self.shipped()
        if found is None:
            return None
        problem = shipped_weights.mismatch(found, self.recipe(ctx))
        if problem is None:
            return found
        if (self.id, problem) not in _WARNED:
            _WARNED.add((self.id, problem))
            progress.log(f"{self.id}: {problem}; training on this machine instead")
        return None

    def key_parts(self, ctx: ModelContext) -> dict[str, Any]:
        found = self.weights(ctx)
        if found is not None:
            return {"model": self.id, "origin": "shipped", "sha256": found.sha256}
        return {"model": self.id, "origin": "trained", "recipe": self.recipe(ctx), "versions": build_versions()}

    def build_source(self, ctx: ModelContext, path: Path) -> dict[str, Any]:
        found = self.weights(ctx)
        if found is not None:
            shutil.copyfile(found.verify(), path)
            return {"origin": "shipped", "recipe_digest": found.manifest["recipe_digest"],
                    "shipped_created": found.manifest.get("created"), "trained_on": found.manifest.get("machine")}
        recipe = self.recipe(ctx)
        facts = self.train(ctx, path)
        return {"origin": "trained", "recipe_digest": shipped_weights.recipe_digest(recipe), "training": facts}
