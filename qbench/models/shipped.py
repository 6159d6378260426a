"""Reference weights that ship with qbench: each built-in model trained once by the suite's own code, one fixed file.

MLPerf's practice: a benchmark's reference model is one file, identified by its checksum. Trained per machine,
two x86 laptops benchmarked two different DeepLabs (float32 mIoU 0.5534 on one, 0.5664 on another) and every first
run spent minutes re-creating them. So ``qbench/models/weights/<model>/`` holds the trained Keras file and a
``manifest.json`` beside it: its sha256, the training recipe and its digest, the TensorFlow / Keras versions and the
machine it was trained on, what training reported, and the float32 quality LiteRT computes on x86_64 XNNPACK.

The recipe is what shapes the weights, digested by what it *produces* wherever that is cheap to know: the
hyper-parameters and seed as values, the data by its content (the frames a renderer draws, not the renderer's
source), the architecture by the untrained model's Keras configuration, and the training loop by its code
(``function_digest``: comments, docstrings and the function's name do not count). When the digest the current code
gives equals the manifest's, a model's source comes from the shipped file and nothing is trained; otherwise qbench
says which part changed and trains, and ``tests/integration/test_reference_weights.py`` fails until the weights
are regenerated with ``REGENERATE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from qbench.cache import Cache, make_key, sha256_file, write_json_atomic
from qbench.errors import QbenchError

WEIGHTS = Path(__file__).resolve().parent / "weights"
MANIFEST = "manifest.json"
SCHEMA = 1
REGENERATE = "./run qbench weights --regenerate"


def recipe_digest(recipe: dict[str, Any]) -> str:
    return make_key(recipe)


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """What differs between two recipes, as ``path: old -> new`` lines (for messages)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += differences(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
        return found
    if old == new:
        return []
    shown = [v[:12] if isinstance(v, str) and len(v) == 64 else v for v in (old, new)]  # digests: their prefix
    return [f"{where or 'recipe'}: {shown[0]} -> {shown[1]}"]


def mismatch(found: Shipped, recipe: dict[str, Any]) -> str | None:
    """None when ``found`` was made by ``recipe``; else what changed, and the command that ships new weights."""
    if found.matches(recipe):
        return None
    changed = "; ".join(differences(found.recipe, recipe)) or "the recipe digest"
    return (f"the training recipe of {found.model_id} differs from its shipped weights' ({changed}); regenerate them "
            f"with `{REGENERATE} {found.model_id}` and commit qbench/models/weights/{found.model_id}/")


@dataclass(frozen=True)
class Shipped:
    """One model's shipped weights: the file and its manifest."""

    model_id: str
    folder: Path
    manifest: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.folder / self.manifest["file"]

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    @property
    def recipe(self) -> dict[str, Any]:
        return self.manifest["recipe"]

    def matches(self, recipe: dict[str, Any]) -> bool:
        return self.manifest.get("recipe_digest") == recipe_digest(recipe)

    def verify(self) -> Path:
        """The file, its sha256 checked against the manifest (a damaged checkout is refused, not trained around)."""
        if not self.path.is_file() or sha256_file(self.path) != self.sha256:
            raise QbenchError(f"the shipped weights {self.path} do not match the sha256 in {self.folder / MANIFEST}",
                              f"restore them (git checkout -- {self.folder}) or regenerate them: "
                              f"{REGENERATE} {self.model_id}")
        return self.path


def load(model_id: str, root: Path = WEIGHTS) -> Shipped | None:
    """The shipped weights of ``model_id``, or None when none ship."""
    folder = root / model_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise QbenchError(f"{folder / MANIFEST} is unreadable ({exc.__class__.__name__}: {exc})",
                          f"restore it (git checkout -- {folder}) or regenerate: {REGENERATE} {model_id}") from None
    if manifest.get("schema") != SCHEMA or manifest.get("model") != model_id:
        raise QbenchError(f"{folder / MANIFEST} is not a schema-{SCHEMA} manifest of {model_id}",
                          f"regenerate it: {REGENERATE} {model_id}")
    return Shipped(model_id, folder, manifest)


def write(model_id: str, model_file: Path, manifest: dict[str, Any], root: Path = WEIGHTS) -> Shipped:
    """Put ``model_file`` and its manifest in place of the shipped weights of ``model_id`` (the file first, the
    manifest last: an interrupted write leaves a manifest that does not match, which ``verify`` refuses)."""
    import shutil

    folder = root / model_id
    folder.mkdir(parents=True, exist_ok=True)
    name = "model" + model_file.suffix
    tmp = folder / f".{name}.new"
    shutil.copyfile(model_file, tmp)
    os.replace(tmp, folder / name)
    full = {"schema": SCHEMA, "model": model_id, "file": name, "bytes": (folder / name).stat().st_size,
            "sha256": sha256_file(folder / name), **manifest}
    write_json_atomic(folder / MANIFEST, full)
    return Shipped(model_id, folder, full)


# -- the architecture, as the untrained model's Keras configuration ------------------------------------------

#: configuration keys that describe how Keras serialises a layer, not what it computes
_SERIALISATION_KEYS = frozenset({"module", "registered_name", "build_config", "compile_config"})


def _normalised(config: Any) -> Any:
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":  # Keras versions serialise dtype policies differently
            return (config.get("config") or {}).get("name")
        return {k: _normalised(v) for k, v in config.items() if k not in _SERIALISATION_KEYS}
    if isinstance(config, (list, tuple)):
        return [_normalised(v) for v in config]
    return config


def print_architecture(builder: str, kwargs_json: str) -> None:
    """Child-process entry: build ``module:function(**kwargs)`` untrained and print its configuration's digest."""
    import importlib

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    module, _, function = builder.partition(":")
    model = getattr(importlib.import_module(module), function)(**json.loads(kwargs_json))
    config = json.dumps(_normalised(model.get_config()), sort_keys=True, default=str)
    print(json.dumps({"digest": make_key({"config": config}), "parameters": int(model.count_params())}))


def architecture(builder: str, kwargs: dict[str, Any], code: str, cache: Cache,
                 known: dict[str, Any] | None = None) -> str:
    """The digest of what ``builder(**kwargs)`` builds (``module:function``), whose module's code digest is ``code``.

    ``known`` is a manifest's record (``{"code": ..., "digest": ...}``): when the code is unchanged, so is what it
    builds, and nothing is imported. Otherwise the model is built in a child process (TensorFlow stays out of this
    one, whose memory the benchmarks measure) and the digest is cached under the code digest, so a refactor that
    builds the same model costs one build and no retraining."""
    if known and known.get("code") == code and known.get("kwargs", kwargs) == kwargs:
        return known["digest"]
    return _built_architecture(builder, json.dumps(kwargs, sort_keys=True), code, cache)


@lru_cache(maxsize=None)
def _built_architecture(builder: str, kwargs_json: str, code: str, cache: Cache) -> str:
    from qbench.versions import installed

    def build(path: Path) -> dict[str, Any]:
        script = "import sys; from qbench.models.shipped import print_architecture; print_architecture(*sys.argv[1:])"
        proc = subprocess.run([sys.executable, "-c", script, builder, kwargs_json], capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise QbenchError(f"building {builder} to digest its architecture failed: {tail}",
                              "fix the model builder (it must build without training)")
        path.write_text(proc.stdout.strip().splitlines()[-1])
        return {}

    parts = {"architecture": builder, "kwargs": kwargs_json, "code": code, "keras": installed("keras")}
    artifact = cache.get_or_build("recipe", parts, "architecture.json", build, label=f"architecture of {builder}")
    return json.loads(artifact.path.read_text())["digest"]
