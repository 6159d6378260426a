"""Content-addressed artifact store (trained models, converted .tflite files, prepared datasets).

An entry's key is the sha256 of everything that determines its bytes (model spec, data digest, mode, tool
versions), so a changed input never reuses a stale file and an unchanged one never rebuilds. Entries are
built in a private temp dir and renamed into place, under a per-key file lock: concurrent pytest-xdist
workers build each entry exactly once and never see half a file. Every read re-checks the manifest's
sha256; a corrupted or tampered entry is discarded and rebuilt.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterator

from filelock import FileLock

from qbench import chatter, progress
from qbench.errors import NotApplicable, QbenchError, ResourceError
from qbench.versions import run_versions

ENV_VAR = "QBENCH_CACHE_DIR"
MANIFEST = "manifest.json"


def default_root() -> Path:
    if env := os.environ.get(ENV_VAR):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qbench"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return tree


def code_digest(*modules, extra: str = "") -> str:
    """sha256 of the modules' code as Python sees it (plus ``extra``): comments, docstrings and layout do
    not count, so only an edit that can change what the code computes invalidates the artifacts built from it. A
    package counts with every module in it (the scene renderer is one)."""
    h = hashlib.sha256(extra.encode())
    for module in _with_submodules(modules):
        h.update(_code_of(Path(module.__file__)))
    return h.hexdigest()


_CODE: dict[tuple[str, int, int], bytes] = {}


def _code_of(path: Path) -> bytes:
    """A source file's code as ``code_digest`` hashes it, parsed once per version of the file: every evaluation key
    digests the scoring code, and parsing it again each time cost ~1 s per case on an emulated Cortex-A72."""
    stat = path.stat()
    version = (str(path), stat.st_mtime_ns, stat.st_size)
    if version not in _CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        _CODE[version] = ast.dump(_without_docstrings(tree)).encode()
    return _CODE[version]


def _with_submodules(modules) -> list:
    import importlib
    import pkgutil

    found = []
    for module in modules:
        found.append(module)
        if hasattr(module, "__path__"):
            found += [importlib.import_module(f"{module.__name__}.{m.name}")
                      for m in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name)]
    return found


def function_digest(*functions: Callable, extra: str = "") -> str:
    """sha256 of functions' code as Python sees it, like ``code_digest`` for whole modules, without their names:
    moving or renaming a function does not change what it computes, and does not change its digest either."""
    import inspect
    import textwrap

    h = hashlib.sha256(extra.encode())
    for function in functions:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        tree.body[0].name = "_"
        h.update(ast.dump(_without_docstrings(tree)).encode())
    return h.hexdigest()


def make_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


_UMASK = os.umask(0o022)  # read the process's umask (there is no getter) and put it back
os.umask(_UMASK)


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """Write next to the target, then rename: readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp's 0600 would make reports and caches private to their writer
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    with atomic_file(path) as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)


@dataclass(frozen=True)
class Artifact:
    path: Path
    manifest: dict[str, Any]

    @property
    def bytes(self) -> int:
        return self.manifest["bytes"]

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]


def verify(entry_dir: Path) -> tuple[Artifact | None, str]:
    """The entry if its manifest and file agree, else None and the reason."""
    try:
        manifest = json.loads((entry_dir / MANIFEST).read_text())
        path = entry_dir / manifest["file"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable manifest ({exc.__class__.__name__})"
    if not path.is_file():
        return None, f"{manifest['file']} is missing"
    if path.stat().st_size != manifest.get("bytes"):
        return None, f"{path.name} has {path.stat().st_size} bytes, manifest says {manifest.get('bytes')}"
    if sha256_file(path) != manifest.get("sha256"):
        return None, f"{path.name} does not match the sha256 in its manifest"
    return Artifact(path, manifest), ""


class Cache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        self.built: list[str] = []  # "kind/key" of entries this process built (for the session summary)
        try:
            for sub in ("tmp", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.root / "tmp").close()
        except OSError as exc:
            raise QbenchError(
                f"cache directory {self.root} is not writable ({exc.strerror or exc})",
                f"point --qbench-cache or ${ENV_VAR} at a writable directory",
            ) from None

    def _lock(self, kind: str, key: str) -> Path:
        return self.root / "locks" / f"{kind}-{key}.lock"

    def sweep(self) -> list[str]:
        """Remove what killed builds left in ``tmp/``: an entry whose key's lock nobody holds (a builder holds its lock
        until its entry is renamed into place, and a killed one's lock dies with it); entries of older qbench
        versions, which carry no key, once a day old. Returns what it removed."""
        removed = []
        for entry in sorted((self.root / "tmp").iterdir()):
            kind, _, rest = entry.name.partition(".")
            key = rest.partition(".")[0]
            if not key:
                try:
                    old = time.time() - entry.lstat().st_mtime > 86_400
                except OSError:
                    continue
                if old and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry.name)
                continue
            lock = FileLock(str(self._lock(kind, key)), timeout=0)
            try:
                with lock:
                    if entry.is_dir() and not entry.is_symlink():  # never follow a link out of the cache
                        shutil.rmtree(entry, ignore_errors=True)
                        removed.append(entry.name)
            except TimeoutError:  # a live builder holds it (filelock.Timeout subclasses TimeoutError)
                continue
        if removed:
            progress.log(f"removed {len(removed)} half-built entr{'y' if len(removed) == 1 else 'ies'} a killed run "
                         f"left in {self.root / 'tmp'}")
        return removed

    def entry_dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:24]

    def lookup(self, kind: str, parts: dict[str, Any]) -> Artifact | None:
        """The valid entry for ``parts`` or None, building nothing (a stored NotApplicable verdict is raised)."""
        artifact, _ = verify(self.entry_dir(kind, make_key(parts)))
        return artifact and _applicable(artifact)

    def get_or_build(
        self,
        kind: str,
        parts: dict[str, Any],
        filename: str,
        build: Callable[[Path], dict[str, Any] | None],
        label: str | None = None,
        stale: Callable[[Artifact], bool] | None = None,
    ) -> Artifact:
        """The cached entry for ``parts``; built by ``build(path)`` when missing or corrupt.

        ``build`` writes the file at ``path`` and may return extra facts for the manifest
        (training accuracy, conversion time, ...). A build that finds the combination cannot exist raises
        ``NotApplicable``: that verdict is stored like an artifact (a warm run does not retry a minute of
        calibration to learn it again) and raised again on every lookup. ``stale(artifact)`` true rebuilds a
        valid entry too (``--qbench-reevaluate``); it is asked again under the lock, where another process may
        just have rebuilt it.
        """
        key = make_key(parts)
        final = self.entry_dir(kind, key)
        artifact, _ = verify(final)
        if artifact and not (stale and stale(artifact)):
            return _applicable(artifact)
        with FileLock(str(self._lock(kind, key[:24]))):
            artifact, reason = verify(final)  # another worker may have built it while we waited
            if artifact and not (stale and stale(artifact)):
                return _applicable(artifact)
            if final.exists():
                if artifact is None:
                    progress.log(f"cache entry {final} is invalid ({reason}); rebuilding")
                shutil.rmtree(final)
            tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp", prefix=f"{kind}.{key[:24]}."))  # sweep() reads the key
            try:
                with progress.step(f"building {label or kind}"):
                    try:
                        with chatter.build_log(self.root / "logs" / f"{kind}-{key[:24]}.log", label or kind):
                            extra = build(tmp / filename) or {}
                    except NotApplicable as exc:
                        filename = NOT_APPLICABLE
                        (tmp / filename).write_text(str(exc))
                        extra = {"not_applicable": {"problem": exc.problem, "fix": exc.fix}}
                manifest = {
                    "schema": 1,
                    "kind": kind,
                    "key": key,
                    "parts": parts,
                    "file": filename,
                    "bytes": (tmp / filename).stat().st_size,
                    "sha256": sha256_file(tmp / filename),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "runtime_versions": run_versions(),
                    **extra,
                }
                write_json_atomic(tmp / MANIFEST, manifest)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(tmp, final)
            except OSError as exc:
                error = resource_error(exc, self.root / kind, label or kind, _tree_bytes(tmp))
                shutil.rmtree(tmp, ignore_errors=True)
                if error is None:
                    raise
                raise error from None
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        self.built.append(f"{kind}/{key[:24]}")
        return _applicable(Artifact(final / filename, manifest))


NOT_APPLICABLE = "not-applicable.txt"

_FULL = {errno.ENOSPC: "no space is left", errno.EDQUOT: "the disk quota is used up"}
_LOCKED = {errno.EACCES: "it is not writable", errno.EROFS: "it is read-only", errno.EPERM: "it is not writable"}


def resource_error(exc: OSError, folder: Path, what: str, written: int) -> ResourceError | None:
    """A full or unwritable cache as one usage error naming the folder, what was being written and the room it needs
    (None: another OSError, raised as it is)."""
    if exc.errno in _FULL:
        try:
            free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
        except OSError:
            free = 0
        need = max(2 * written, 1 << 20)
        return ResourceError(f"{_FULL[exc.errno]} on the filesystem of the cache folder {folder} while writing {what} "
                             f"({_mb(written)} written, {_mb(free)} free)",
                             f"free at least {_mb(need)} there, or point --qbench-cache / ${ENV_VAR} at a filesystem "
                             "with room (a full default run's cache takes about 1 GB)")
    if exc.errno in _LOCKED:
        where = exc.filename or folder
        return ResourceError(f"the cache folder {folder} became unusable while writing {what}: {where}: "
                             f"{_LOCKED[exc.errno]}", f"make it writable again, or point --qbench-cache / ${ENV_VAR} "
                                                      "at a writable directory")
    return None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _applicable(artifact: Artifact) -> Artifact:
    """The artifact, or the stored NotApplicable verdict raised again."""
    if verdict := artifact.manifest.get("not_applicable"):
        raise NotApplicable(verdict["problem"], verdict.get("fix"))
    return artifact
