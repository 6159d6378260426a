"""The artifact cache: content addressing, integrity checks, atomic and exactly-once builds."""

import errno
import multiprocessing
import time
import types

import pytest

from qbench.cache import Cache, code_digest, make_key, verify
from qbench.errors import QbenchError, ResourceError

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


def test_a_full_disk_is_one_resource_error_naming_the_folder_and_nothing_is_half_written(tmp_path):
    cache = Cache(tmp_path)

    def build(path):
        path.write_bytes(b"x" * 300_000)
        raise OSError(errno.ENOSPC, "No space left on device")  # what numpy.savez raised on a full filesystem

    with pytest.raises(ResourceError) as exc:
        cache.get_or_build("tflite", PARTS, "m.tflite", build, label="m int8.tflite")
    assert f"no space is left on the filesystem of the cache folder {tmp_path / 'tflite'}" in exc.value.problem
    assert "while writing m int8.tflite (0.3 MB written" in exc.value.problem and "free at least" in exc.value.fix
    assert cache.lookup("tflite", PARTS) is None and list((tmp_path / "tmp").iterdir()) == []


def test_another_os_error_is_raised_as_it_is(tmp_path):
    def build(path):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError) as exc:
        Cache(tmp_path).get_or_build("tflite", PARTS, "m.tflite", build)
    assert not isinstance(exc.value, QbenchError)


def _hold_build(root, started):
    def build(path):
        started.set()
        time.sleep(3)
        path.write_text("late")

    Cache(root).get_or_build("tflite", {"held": 1}, "m.tflite", build)


def test_sweep_removes_what_a_killed_build_left_and_never_a_live_one(tmp_path):
    cache = Cache(tmp_path)
    key = make_key(PARTS)[:24]
    stale = tmp_path / "tmp" / f"tflite.{key}.abc123"  # a killed builder's: its lock died with it
    stale.mkdir()
    (stale / "m.tflite").write_text("half")
    started = multiprocessing.get_context("spawn").Event()
    live = multiprocessing.get_context("spawn").Process(target=_hold_build, args=(tmp_path, started))
    live.start()
    try:
        assert started.wait(60)
        held = [p for p in (tmp_path / "tmp").iterdir() if p != stale]
        assert len(held) == 1 and held[0].name.startswith(f"tflite.{make_key({'held': 1})[:24]}.")
        assert cache.sweep() == [stale.name]
        assert held[0].exists() and not stale.exists()
    finally:
        live.join(30)
    assert cache.lookup("tflite", {"held": 1}) is not None and list((tmp_path / "tmp").iterdir()) == []
