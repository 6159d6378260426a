"""The artifact cache: content addressing, integrity checks, atomic and exactly-once builds."""

import multiprocessing
import time
import types

import pytest

from qbench.cache import Cache, code_digest, make_key, verify
from qbench.errors import QbenchError

PARTS = {"model": "m", "mode": "int8", "versions": {"tf": "1"}}


def write(text):
    def build(path):
        path.write_text(text)
        return {"note": text}

    return build


def test_builds_once_then_reuses(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def build(path):
        calls.append(path)
        path.write_text("abc")

    first = cache.get_or_build("tflite", PARTS, "m.tflite", build)
    second = cache.get_or_build("tflite", PARTS, "m.tflite", build)
    assert len(calls) == 1
    assert first.path == second.path and first.path.read_text() == "abc"
    assert first.manifest["sha256"] == second.sha256 and first.bytes == 3
    assert first.manifest["parts"] == PARTS


def test_key_changes_with_any_part():
    changed = {**PARTS, "versions": {"tf": "2"}}
    assert make_key(PARTS) == make_key(dict(reversed(list(PARTS.items()))))
    assert make_key(PARTS) != make_key(changed)


CODE = '''"""Module docstring."""
def f(x):
    """Why f exists."""
    return x + 1  # a comment
'''


@pytest.mark.parametrize(
    ("edited", "same"),
    [
        (CODE.replace("Why f exists.", "Why f exists, reworded."), True),
        (CODE.replace("# a comment", "# another comment").replace("x + 1", "x  +  1"), True),
        (CODE.replace('"""Module docstring."""\n', ""), True),
        (CODE.replace("x + 1", "x + 2"), False),
        (CODE + "\ndef g():\n    \"\"\"Only a docstring.\"\"\"\n", False),
    ],
    ids=["docstring", "comment-and-spacing", "no-module-docstring", "constant", "new-function"],
)
def test_code_digest_sees_code_not_prose(tmp_path, edited, same):
    """Artifacts keyed by code_digest (the scenes and DeepLab recipe) rebuild only when the code changes."""
    paths = [tmp_path / "a.py", tmp_path / "b.py"]
    paths[0].write_text(CODE)
    paths[1].write_text(edited)
    a, b = (types.SimpleNamespace(__file__=str(p)) for p in paths)
    assert (code_digest(a) == code_digest(b)) is same


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a.path.write_text("abd"),  # same size, other bytes
        lambda a: a.path.write_text("ab"),  # truncated
        lambda a: a.path.unlink(),
        lambda a: (a.path.parent / "manifest.json").write_text("{not json"),
    ],
    ids=["tampered", "truncated", "missing", "bad-manifest"],
)
def test_damaged_entry_is_detected_and_rebuilt(tmp_path, damage):
    cache = Cache(tmp_path)
    artifact = cache.get_or_build("tflite", PARTS, "m.tflite", write("abc"))
    damage(artifact)
    assert verify(artifact.path.parent)[0] is None
    assert cache.lookup("tflite", PARTS) is None
    rebuilt = cache.get_or_build("tflite", PARTS, "m.tflite", write("abc"))
    assert rebuilt.path.read_text() == "abc" and verify(rebuilt.path.parent)[0] is not None


def test_failed_build_leaves_nothing_behind(tmp_path):
    cache = Cache(tmp_path)

    def build(path):
        path.write_text("half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_build("tflite", PARTS, "m.tflite", build)
    assert cache.lookup("tflite", PARTS) is None
    assert not (tmp_path / "tflite").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def _slow_build(root, log):
    def build(path):
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(0.5)
        path.write_text("payload")

    return Cache(root).get_or_build("tflite", PARTS, "m.tflite", build).sha256


def test_concurrent_processes_build_exactly_once(tmp_path):
    log = tmp_path / "builds.log"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        digests = pool.starmap(_slow_build, [(tmp_path / "cache", log)] * 3)
    assert log.read_text().count("built") == 1
    assert len(set(digests)) == 1


def test_unwritable_cache_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(QbenchError, match="not writable") as exc:
        Cache(blocker / "cache")
    assert "QBENCH_CACHE_DIR" in str(exc.value)


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    """Files written through a temp file (reports, manifests) are readable like any other file, not mkstemp's 0600."""
    from qbench.cache import _UMASK, write_json_atomic

    write_json_atomic(tmp_path / "x.json", {"a": 1})
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~_UMASK
