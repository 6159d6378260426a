"""What every dataset kind hands to the pipeline, and the split and file rules they share.

A dataset kind (``dataset=idx:DIR``, ``images:DIR``, ...) is one module under ``qbench/data/`` with one
``DatasetKind`` subclass; it reads the user's files into a ``Data``: raw calibration and evaluation samples as the
files hold them (uint8 pixels or ready float arrays), labels if there are any, and a digest. Fitting samples to a
model's input (resize, channels, range) is ``qbench.data.preprocess``'s job, done once the model's input shape is
known. Calibration samples never overlap the evaluated ones: each kind either has a train/test layout or uses
``seeded_split`` (documented in the README).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

import numpy as np

from qbench.data.labels import IGNORE  # noqa: F401  (255: "not scored" in every mask, as Cityscapes)
from qbench.errors import QbenchError
from qbench.registry import Registry

if TYPE_CHECKING:
    from qbench.cache import Cache
    from qbench.config.options import Option, Settings

CALIBRATION_SAMPLES = 100  # representative samples for full-integer calibration (thesis Code Listing 3.10)
SPLIT_SEED = 0


@dataclass(frozen=True)
class EvalSet:
    """Inputs exactly as the model takes them, and the labels to score against (None: unlabelled)."""

    x: np.ndarray
    y: np.ndarray | None
    num_classes: int
    class_names: tuple[str, ...] = ()

    def head(self, n: int | None) -> EvalSet:
        """The first ``n`` samples (all when ``n`` is None or not smaller)."""
        if n is None or n >= len(self.x):
            return self
        return EvalSet(self.x[:n], None if self.y is None else self.y[:n], self.num_classes, self.class_names)


@dataclass(frozen=True)
class Data:
    """A dataset as read from the user's files, before fitting to a model."""

    origin: str  # what the user gave (for messages)
    calibration: np.ndarray  # raw samples
    eval_x: np.ndarray
    eval_y: np.ndarray | None  # class ids (N,), masks (N, H, W), or None
    digest: str
    class_names: tuple[str, ...] = ()  # () when the files do not name classes
    pixels: bool = True  # uint8 pixel values that ``range=`` maps to floats; False: ready float arrays
    images: bool = True  # may be resized / converted between grey and RGB to fit the model
    eval_names: tuple[str, ...] = field(default=(), repr=False)  # one per evaluated sample, for messages
    split_rule: str = ""  # how calibration and evaluation samples were chosen, for the README and messages
    #: the training split (raw samples and labels), read when a model trains on it; None: the kind has none
    training: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # whatever kind read them: a NaN in a calibration set segfaults TFLiteConverter, one in the evaluated
        # samples makes every quality figure NaN
        require_finite(self.calibration, "the calibration samples", self.origin)
        require_finite(self.eval_x, "the evaluated samples", self.origin)

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) or None


FINITE_FIX = ("drop or repair those samples before qbench reads them (e.g. keep x[np.isfinite(x).reshape(len(x), -1)"
              ".all(axis=1)] with its labels); a NaN crashes TFLiteConverter's calibration and makes every score NaN")


def require_finite(x: np.ndarray | None, name: str, where: str, fix: str = FINITE_FIX) -> None:
    """Refuse NaN or infinite values in ``x`` (samples along axis 0), naming ``name`` in ``where``, the first
    offending sample and how many there are."""
    if x is None or np.asarray(x).dtype.kind not in "fc" or len(x) == 0:
        return
    bad: list[int] = []
    step = max(1, (1 << 24) // max(1, int(np.prod(x.shape[1:], dtype=np.int64))))  # ~16M values at a time
    for start in range(0, len(x), step):
        chunk = np.asarray(x[start:start + step]).reshape(min(step, len(x) - start), -1)
        bad += (start + np.flatnonzero(~np.isfinite(chunk).all(axis=1))).tolist()
    if bad:
        first = np.asarray(x[bad[0]]).ravel()
        kinds = " and ".join(k for k, hit in (("NaN", np.isnan(first).any()), ("infinite", np.isinf(first).any()))
                             if hit)
        at = int(np.flatnonzero(~np.isfinite(first))[0])
        raise QbenchError(f"{where}: {kinds} values in {name}, first in sample {bad[0]} (its value #{at}"
                          + (f"; {len(bad)} samples in all" if len(bad) > 1 else "") + ")", fix)


class DataContext(Protocol):
    """What a dataset kind may use while it reads: the parsed settings (its own options among them) and the cache
    (for what it fetches or draws once)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def cache(self) -> Cache: ...


class DatasetKind(ABC):
    """One way of reading the user's data; ``dataset=<id>[:PATH]``. A new kind is one module with a subclass
    decorated ``@DATASETS.register`` (``tests/extensions/toy_dataset.py`` is a worked example)."""

    id: str
    task: str  # the task its labels support: classification | segmentation | fidelity
    description: str
    example: str  # a README-style --qbench-model example
    takes_path: bool = True
    default_range: tuple[float, float] = (0.0, 1.0)  # what uint8 pixels map to unless range= says otherwise
    options: tuple[Option, ...] = ()

    @abstractmethod
    def load(self, path: Path | None, ctx: DataContext, fit: tuple[int, ...] | None = None) -> Data:
        """Read and check the data (raising one QbenchError that names the file and the fix).

        ``fit`` is the model's per-sample input shape when known: a kind whose files are much larger than the
        model's input (Cityscapes' 2048x1024 frames) may resize while reading instead of holding the originals."""

    def resolve(self, raw: str | None) -> Path | None:
        """What ``dataset=KIND:RAW`` names: a path (absolute, ``~`` expanded) for most kinds."""
        return Path(raw).expanduser().absolute() if raw else None

    def check_path(self, path: Path | None) -> None:
        """Refuse a missing path before anything runs (the cheap part of ``load``'s checks)."""
        if not self.takes_path:
            if path is not None:
                raise QbenchError(f"dataset={self.id} takes no path (got {self.id}:{path})", f"write dataset={self.id}")
            return
        if path is None:
            raise QbenchError(f"dataset={self.id} needs a path", f"e.g. {self.example}")
        if not path.exists():
            raise QbenchError(f"dataset {self.id}:{path} does not exist", f"give an existing path, e.g. {self.example}")


#: The dataset kinds by the id ``dataset=KIND[:PATH]`` names; each registers itself (``qbench/data/__init__.py``
#: imports the built-in ones).
DATASETS: Registry[DatasetKind] = Registry("dataset kind")


def seeded_split(n: int, origin: str, limit: int = CALIBRATION_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, evaluation) indices of ``n`` samples with no test split of their own: a fixed-seed shuffle
    (numpy PCG64, seed 0); its first min(100, n // 5) (at least 1) samples calibrate, the rest are evaluated
    in their original order. The same files give the same split on every machine."""
    if n < 2:
        raise QbenchError(f"{origin} holds {n} sample(s); calibration and evaluation need at least 2",
                          "add samples (or give a train/test layout)")
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    k = max(1, min(limit, n // 5))
    return np.sort(order[:k]), np.sort(order[k:])


def calibration_pick(n: int, limit: int = CALIBRATION_SAMPLES) -> np.ndarray:
    """Indices of the calibration samples drawn from a training split of ``n``: a fixed-seed shuffle's first 100."""
    return np.sort(np.random.default_rng(SPLIT_SEED).permutation(n)[: min(limit, n)])


SEEDED_SPLIT_RULE = "no test split: a seeded shuffle (seed 0) gives min(100, n/5) calibration samples, the rest are evaluated"
TRAIN_TEST_RULE = "100 calibration samples from the training split (seeded shuffle, seed 0); the test split is evaluated"


def digest_arrays(kind: str, *arrays: np.ndarray | None) -> str:
    h = hashlib.sha256(kind.encode())
    for a in arrays:
        if a is not None:
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@lru_cache(maxsize=8192)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    from qbench.cache import sha256_file

    return sha256_file(path)


def digest_files(kind: str, files: Iterable[Path], extra: str = "") -> str:
    """sha256 over files' names and bytes (memoized on each file's size and mtime): a cheap cache-key part."""
    h = hashlib.sha256(f"{kind}\n{extra}\n".encode())
    for path in files:
        st = path.stat()
        h.update(f"{path.name} {_file_sha256(path, st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what Keras' image_dataset_from_directory reads


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """An image file as uint8 (H, W) or (H, W, 3); ``mode`` forces PIL's "L" / "RGB" / keeps palette indices ("P")."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if mode == "P":
                if img.mode not in ("L", "P", "I", "I;16"):
                    raise QbenchError(f"mask {path} is a {img.mode} image, not a single-channel class-id map",
                                      "save masks as 8-bit greyscale or palette PNGs whose pixel values are class ids")
                return np.asarray(img).astype(np.int64)
            img = img.convert(mode or ("L" if img.mode in ("L", "1", "I", "I;16", "F") else "RGB"))
            return np.asarray(img, np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise QbenchError(f"{path} is not a readable image ({exc.__class__.__name__}: {exc})",
                          "replace or remove the file (PNG, JPEG, BMP or GIF)") from None


def stack_images(paths: list[Path], origin: str) -> np.ndarray:
    """uint8 images of any sizes as one array when they agree in size, else an object array of images
    (fitted to the model later, one by one)."""
    images = [read_image(p) for p in paths]
    if len({(im.shape) for im in images}) == 1:
        return np.stack(images)
    out = np.empty(len(images), object)
    out[:] = images
    return out
