"""The model file formats qbench imports, recognised by their first bytes, and how the cache holds them.

Keras files are zips (.keras) or HDF5 (.h5), a .tflite carries the TFL3 identifier, a SavedModel is a folder with
saved_model.pb; a frozen graph has no magic and is any other file (usually .pb). The cache holds one file per
entry, so a SavedModel is stored as a deterministic tar (``pack_saved_model``) that conversion unpacks.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from qbench.errors import QbenchError

FORMATS = ("keras", "saved_model", "frozen_graph", "tflite")


def sniff(path: Path) -> str | None:
    """The format a file evidently has (by magic bytes), or None; frozen graphs have no magic."""
    if path.is_dir():
        return "saved_model" if any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt")) else None
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04") or head == b"\x89HDF\r\n\x1a\n":  # .keras is a zip, legacy .h5 is HDF5
        return "keras"
    if head[4:8] == b"TFL3":
        return "tflite"
    return None


def content_sha256(path: Path) -> str:
    """A file's sha256, or for a directory the sha256 of its files' relative names and sha256s."""
    from qbench.cache import sha256_file

    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(f"{p.relative_to(path).as_posix()} {sha256_file(p)}\n".encode())
    return h.hexdigest()


def file_stamp(path: Path) -> tuple:
    files = [path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file())
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def pack_saved_model(directory: Path, dest: Path) -> None:
    """The cache holds one file per entry, so a SavedModel directory is stored as an uncompressed tar
    (sorted, zeroed owners and times: the same directory gives the same bytes)."""

    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(directory, arcname=".", filter=normalize)


def unpack_saved_model(archive: Path, dest: Path) -> Path:
    """The SavedModel directory back from ``pack_saved_model``'s tar, for TFLiteConverter.from_saved_model."""
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def detect_format(model_id: str, path: Path, given: str | None) -> str:
    """The format ``given`` (checked against the file's evident one) or recognised from the file."""
    evident = sniff(path)
    if given is not None and given not in FORMATS:
        raise QbenchError(f"model {model_id}: unknown format {given!r}", f"use one of {', '.join(FORMATS)}")
    fmt = given or evident or ("frozen_graph" if path.suffix == ".pb" else None)
    if fmt is None:
        raise QbenchError(
            f"model {model_id}: cannot tell the format of {path}",
            f"add format={'|'.join(FORMATS)}",
        )
    # keras, tflite and SavedModels have a signature; a frozen graph is any other file
    wrong = (evident is not None or path.is_dir()) if fmt == "frozen_graph" else evident != fmt
    if wrong:
        looks = f" (it looks like {evident})" if evident else ""
        raise QbenchError(
            f"model {model_id}: {path} is not a {fmt} model{looks}",
            f"use format={evident}" if evident else "check the path and format=",
        )
    if fmt == "keras" and path.suffix not in (".keras", ".h5"):
        raise QbenchError(f"model {model_id}: Keras 3 loads only .keras and .h5 files, not {path.name}",
                          "save the model as .keras (model.save('model.keras'))")
    return fmt
