"""``dataset=idx:DIR``: any dataset in MNIST's IDX format (MNIST, Fashion-MNIST, KMNIST, EMNIST, your own).

Four files, each optionally gzipped: training images and labels, test images and labels, found by the usual names
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` / ``test-images-...``,
``t10k-labels-idx1-ubyte``, with any prefix such as ``emnist-digits-``). Unlike ``dataset=mnist`` nothing is
checked against MNIST's own counts: the set only has to be well-formed IDX of unsigned bytes. Calibration draws
100 training images (seeded shuffle); the test images are evaluated.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from qbench.data.base import DATASETS, TRAIN_TEST_RULE, Data, DatasetKind, calibration_pick, digest_files
from qbench.errors import QbenchError

PATTERNS = {  # role -> glob patterns (first that matches exactly one file wins)
    "x_train": ("*train-images*idx3-ubyte*", "*train-images*"),
    "y_train": ("*train-labels*idx1-ubyte*", "*train-labels*"),
    "x_test": ("*t10k-images*idx3-ubyte*", "*test-images*idx3-ubyte*", "*t10k-images*", "*test-images*"),
    "y_test": ("*t10k-labels*idx1-ubyte*", "*test-labels*idx1-ubyte*", "*t10k-labels*", "*test-labels*"),
}
LAYOUT = ("a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
          "t10k-labels-idx1-ubyte (each may be .gz)")


def read_idx(path: Path, fix: str = LAYOUT) -> np.ndarray:
    """One IDX file of unsigned bytes (gzipped or not), with one clear error for every way it can be broken."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise QbenchError(f"{path} is a truncated or corrupt gzip file ({exc.__class__.__name__}: {exc})",
                          f"download or copy it again; {fix}") from None
    except OSError as exc:
        raise QbenchError(f"cannot read {path}: {exc.strerror or exc}", fix) from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise QbenchError(f"{path} is not an IDX file of unsigned bytes (magic {data[:4].hex() or 'missing'})", fix)
    ndim = data[3]
    if ndim < 1 or len(data) < 4 + 4 * ndim:
        raise QbenchError(f"{path} is truncated inside its IDX header", f"copy it again; {fix}")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise QbenchError(f"{path} is truncated: its header says {dims}, the file holds {body.size} values",
                          f"copy it again; {fix}")
    return body.reshape(dims)


def find_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise QbenchError(f"{folder} is not a folder", f"dataset=idx: takes {LAYOUT}")
    files = [p for p in folder.iterdir() if p.is_file()]
    found = {}
    for role, patterns in PATTERNS.items():
        for pattern in patterns:
            matches = [p for p in files if p.match(pattern) and p not in found.values()]
            if len(matches) == 1:
                found[role] = matches[0]
                break
            if len(matches) > 1:
                names = ", ".join(sorted(p.name for p in matches))
                raise QbenchError(f"{folder} has several candidates for {role}: {names}",
                                  "keep one IDX set per folder")
        else:
            raise QbenchError(f"{folder} has no {role.replace('_', ' ')} IDX file", f"dataset=idx: takes {LAYOUT}")
    return found


def read_idx_set(folder: Path) -> dict[str, np.ndarray]:
    files = find_files(folder)
    arrays = {role: read_idx(path) for role, path in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1:
            raise QbenchError(f"{files[f'y_{split}']} holds {y.ndim}-d labels, not one class id per image", LAYOUT)
        if len(x) != len(y):
            raise QbenchError(f"{folder}: {len(x)} {split} images but {len(y)} labels "
                              f"({files[f'x_{split}'].name}, {files[f'y_{split}'].name})",
                              "use image and label files of the same set")
    return arrays


@DATASETS.register
class IdxKind(DatasetKind):
    id = "idx"
    task = "classification"
    description = "MNIST-format IDX files (four, optionally .gz); any counts"
    example = "--qbench-model fashion=fashion.keras,dataset=idx:~/fashion-mnist"

    def load(self, path, ctx, fit=None) -> Data:
        arrays = read_idx_set(path)
        pick = calibration_pick(len(arrays["x_train"]))
        return Data(
            origin=f"idx:{path}",
            calibration=arrays["x_train"][pick],
            eval_x=arrays["x_test"],
            eval_y=arrays["y_test"].astype(np.int64),
            digest=digest_files("idx", sorted(find_files(path).values())),
            split_rule=TRAIN_TEST_RULE,
            # the whole training split (quantization-aware fine-tuning); the digest covers its files
            training=lambda: (arrays["x_train"], arrays["y_train"].astype(np.int64)),
        )

