"""A portable bundle of the run stage: converted models, their evaluation data, and the facts to trust them.

A Raspberry Pi (or the run-stage Docker image) has no TensorFlow and must never train. It gets a folder
written by ``qbench build --out DIR`` on the build machine instead: one ``.tflite`` per model x mode (always
with float32, the size and quality reference), each model's EvalSet as ``.npz``, and ``manifest.json``,
which pins every file by sha256 and size and carries what results need from the build (each file's cache
manifest, the model specs' run-stage facts, tool versions, the pinned run-stage requirements).

``open_bundle`` makes the run stage's session from it: ``BundleArtifacts`` stands where the build machine's
``Artifacts`` stand, so the benchmarks cannot tell the two apart; a partial or damaged copy is refused with the fix
instead of being measured.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

import qbench
from qbench.cache import Artifact, Cache, sha256_file
from qbench.data.base import EvalSet
from qbench.errors import NotApplicable, QbenchError
from qbench.modes import REFERENCE_MODE, reference_of
from qbench.pipeline.catalog import Catalog
from qbench.pipeline.evaluator import Evaluator
from qbench.pipeline.memo import Memo
from qbench.pipeline.reading import FileReads
from qbench.pipeline.results import Results
from qbench.pipeline.session import Session
from qbench.versions import build_versions, run_versions

SCHEMA = 1
MANIFEST = "manifest.json"
RUN_REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements" / "run.txt"
REBUILD = "rebuild the bundle with `qbench build --out DIR` on the build machine and copy the whole folder again"


def write_bundle(session: Session, model_ids: Iterable[str], mode_ids: Iterable[str], out: Path | str) -> Path:
    """Write the run stage of ``model_ids`` x ``mode_ids`` (plus float32) to ``out`` and return its path.

    Built in a temp dir next to ``out`` and renamed into place: ``out`` is always either the old complete
    bundle or the new complete one, never a mix, and a failed write leaves the old one untouched.
    """
    out = Path(out).expanduser().absolute()
    _check_replaceable(out)
    mode_ids = list(mode_ids)  # each mode's reference first (float32; ort-float32 for the ONNX Runtime modes)
    mode_ids = list(dict.fromkeys([REFERENCE_MODE, *(reference_of(m) for m in mode_ids), *mode_ids]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would lock out a container running as another user
        manifest = _fill(session, list(model_ids), mode_ids, tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))  # keeps the modes in order
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _is_bundle(path: Path) -> bool:
    try:
        return "qbench_bundle" in json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError, TypeError):
        return False


def _check_replaceable(out: Path) -> None:
    """Only an old bundle or an empty folder may be replaced: never delete someone's other files."""
    if out.exists() and not (out.is_dir() and (_is_bundle(out) or not any(out.iterdir()))):
        raise QbenchError(
            f"{out} exists and is not a qbench bundle; refusing to replace it",
            "choose another --out path, or remove it yourself",
        )


def _facts(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _run_requirements() -> str:
    if not RUN_REQUIREMENTS.is_file():
        raise QbenchError(
            f"{RUN_REQUIREMENTS} not found: a bundle records the run stage's pinned requirements",
            "write bundles from a source checkout of qbench (pip install -e .)",
        )
    return RUN_REQUIREMENTS.read_text()


def compact(x: np.ndarray) -> np.ndarray:
    """Float inputs that are whole numbers in 0..255 (the scenes' pixels) as uint8: a quarter of the bytes
    to copy to a Pi, restored exactly by the reader (which casts back to the recorded ``x_dtype``)."""
    if x.dtype.kind == "f" and x.size and np.all((x >= 0) & (x <= 255) & (x == np.round(x))):
        return x.astype(np.uint8)
    return x


def _fill(session: Session, model_ids: list[str], mode_ids: list[str], folder: Path) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    skipped: dict[str, dict[str, str]] = {}
    for model_id in model_ids:
        artifacts = session.artifacts
        spec, data = artifacts.spec(model_id), artifacts.eval_set(model_id)
        eval_name = f"{model_id}-eval.npz"
        np.savez_compressed(
            folder / eval_name, x=compact(data.x), x_dtype=data.x.dtype.name,
            y=np.zeros(0, np.uint8) if data.y is None else data.y, labelled=data.y is not None,
            num_classes=data.num_classes, class_names=np.array(data.class_names, dtype=str),
        )
        files[eval_name] = _facts(folder / eval_name)
        tflite = {}
        for mode_id in mode_ids:
            try:
                artifact = artifacts.tflite(model_id, mode_id)
                name = f"{model_id}-{mode_id}{artifact.path.suffix}"  # .tflite, or .onnx (Mode.format)
            except NotApplicable as exc:
                skipped.setdefault(model_id, {})[mode_id] = exc.problem  # the run stage skips it with the reason
                continue
            shutil.copyfile(artifact.path, folder / name)
            files[name] = _facts(folder / name)
            if files[name]["sha256"] != artifact.sha256:
                raise QbenchError(f"{artifact.path} changed while being copied to the bundle", "write the bundle again")
            tflite[mode_id] = {**artifact.manifest, "file": name}
        models[model_id] = {
            "task": spec.task,
            "floors": spec.floors_for(session.settings),
            "eval_batch": spec.eval_batch,
            "description": spec.description,
            "source_format": spec.source_format,
            "source": artifacts.source_info(model_id),
            "eval_set": eval_name,
            "tflite": tflite,
            "not_applicable": skipped.get(model_id, {}),
        }
    return {
        "qbench_bundle": SCHEMA,
        "qbench_version": qbench.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tool_versions": {"build": build_versions(), "run": run_versions()},
        "run_requirements": _run_requirements(),
        "models": models,
        "files": files,
    }


def _swap_in(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an old ``out`` is moved aside first, and deleted only once ``new`` is in place."""
    if not out.exists():
        os.rename(new, out)
        return
    aside = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rename(out, aside / out.name)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(aside / out.name, out)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


@dataclass(frozen=True)
class RunSpec:
    """A model's run-stage facts as the bundle records them: what the benchmarks read of a ModelSpec."""

    id: str
    task: str
    floors: dict[str, float]
    eval_batch: int
    description: str
    source_format: str
    default: bool = True

    def floors_for(self, settings) -> dict[str, float]:
        return dict(self.floors)  # recorded for the variant that was bundled

    def converter_args(self) -> dict[str, Any]:
        return {}  # a bundle converts nothing


@dataclass(frozen=True)
class BundleStore:
    """Stands where a session keeps its Cache: the plugin reports ``root`` and counts ``built`` (always none)."""

    root: Path
    built: tuple[str, ...] = ()


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        problem = f"{path} is not a readable qbench bundle ({MANIFEST}: {exc.__class__.__name__})"
        raise QbenchError(problem, REBUILD) from None
    if not isinstance(manifest, dict) or manifest.get("qbench_bundle") != SCHEMA:
        raise QbenchError(f"{path / MANIFEST} is not a qbench bundle manifest of schema {SCHEMA}", REBUILD)
    return manifest


def _size_problem(path: Path, facts: dict[str, Any]) -> str | None:
    if not path.is_file():
        return f"{path.name} is missing"
    if (size := path.stat().st_size) != facts["bytes"]:
        return f"{path.name} has {size} bytes, the manifest says {facts['bytes']}"
    return None


class BundleArtifacts(FileReads):
    """The run stage's models from a bundle: no TensorFlow, no training, no writes.

    Opening checks that every file is present with its manifest size; each file's sha256 is checked the
    first time it is used, so a session reads only what it measures and never measures a damaged file.
    """

    builds = False

    def __init__(self, path: Path | str, settings):
        self.path = Path(path).expanduser()
        self.settings = settings
        self.manifest = _read_manifest(self.path)
        self.cache = BundleStore(self.path)
        self._verified: set[str] = set()
        self._memo = Memo()
        damaged = [p for name, facts in self.manifest["files"].items() if (p := _size_problem(self.path / name, facts))]
        if damaged:
            raise QbenchError(f"bundle {self.path} is incomplete: {'; '.join(damaged)}", REBUILD)

    @property
    def contents(self) -> dict[str, list[str]]:
        """Each model the bundle holds, with its modes (those that did not apply included: their cases skip)."""
        return {model_id: [*entry["tflite"], *entry.get("not_applicable", {})]
                for model_id, entry in self.manifest["models"].items()}

    def _file(self, name: str) -> Path:
        """The bundle file ``name``, its sha256 checked against the manifest on first use."""
        path = self.path / name
        if name not in self._verified:
            if sha256_file(path) != self.manifest["files"][name]["sha256"]:
                raise QbenchError(f"bundle file {path} does not match the sha256 in {MANIFEST}", REBUILD)
            self._verified.add(name)
        return path

    def _entry(self, model_id: str) -> dict[str, Any]:
        try:
            return self.manifest["models"][model_id]
        except KeyError:
            raise QbenchError(
                f"bundle {self.path} has no model {model_id!r}; it has {', '.join(self.contents)}",
                f"write a bundle with it: `qbench build --models {model_id} --out DIR`",
            ) from None

    def spec(self, model_id: str) -> RunSpec:
        entry = self._entry(model_id)
        return RunSpec(model_id, entry["task"], entry["floors"], entry["eval_batch"], entry["description"],
                       entry["source_format"])

    def source_info(self, model_id: str) -> dict[str, Any]:
        return dict(self._entry(model_id).get("source", {"source": None, "weights_sha256": None}))

    def eval_set(self, model_id: str) -> EvalSet:
        def load() -> EvalSet:
            with np.load(self._file(self._entry(model_id)["eval_set"]), allow_pickle=False) as npz:
                names = tuple(str(n) for n in npz["class_names"])
                x = npz["x"].astype(str(npz["x_dtype"])) if "x_dtype" in npz else npz["x"]
                labelled = bool(npz["labelled"]) if "labelled" in npz else True  # bundles before fidelity: labelled
                y = npz["y"] if labelled else None
                return EvalSet(x, y, int(npz["num_classes"]), names)

        return self._memo.get(("eval", model_id), load)

    def tflite(self, model_id: str, mode_id: str) -> Artifact:
        entry = self._entry(model_id)
        if reason := entry.get("not_applicable", {}).get(mode_id):
            raise NotApplicable(reason)
        held = entry["tflite"]
        if mode_id not in held:
            raise QbenchError(
                f"bundle {self.path} has no {mode_id!r} model of {model_id}; it has modes {', '.join(held)}",
                f"write a bundle with it: `qbench build --models {model_id} --modes {mode_id} --out DIR`",
            )
        return Artifact(self._file(held[mode_id]["file"]), held[mode_id])

    def cached(self, model_id: str, mode_id: str) -> bool:
        return True

    def prepare(self, model_id: str) -> None:
        """A bundle's data were checked when it was written."""

    def release(self, keep: str | None = None) -> None:
        self._memo.release(keep)


def open_bundle(path: Path | str, settings, *, started: str | None = None, concurrency: int = 1,
                evaluations: str | None = None) -> Session:
    """The run stage's session over a bundle; ``--qbench-cache`` keeps its evaluations there (none: each session
    evaluates anew, into a folder of its own that goes when the session's process ends).

    That folder exists so that what the warm-up's worker processes evaluate is what the session's cases read: without
    it each evaluation ran twice, once in a worker and again in the case (the segmentation model's float32 on an
    emulated Cortex-A72: 105 s each time). ``evaluations`` is the folder a worker is handed by the session that made
    it; only the process that created the folder removes it."""
    artifacts = BundleArtifacts(path, settings)
    given = settings.get("cache")
    if not given and evaluations is None:
        evaluations = tempfile.mkdtemp(prefix="qbench-evaluations-")
        atexit.register(shutil.rmtree, evaluations, True)
    kept = given or evaluations
    evaluator = Evaluator(artifacts, Cache(kept), settings.get("eval_limit"),
                          bool(settings.get("reevaluate")), started, concurrency)
    models = list(artifacts.contents)
    catalog = Catalog(artifacts.spec(m) for m in models)
    modes = list(dict.fromkeys(m for held in artifacts.contents.values() for m in held))
    return Session(settings, artifacts.cache, catalog, artifacts, evaluator,
                   Results(artifacts, evaluator), (open_bundle, (path, settings), {
                       "started": evaluator.started, **({} if given else {"evaluations": evaluations})}),
                   held={"models": models, "modes": modes})
