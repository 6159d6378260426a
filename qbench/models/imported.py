"""Bring-your-own models: a Keras file, SavedModel, frozen graph or .tflite joins the matrix under its own id.

The thesis converted a downloaded DeepLab frozen graph (Code Listing 3.7); this module lets any such model be
benchmarked like the built-in ones. Option syntax (one model per option, repeat the option for more)::

    ID=PATH[,KEY=VALUE...]

    ID        the model's id in test ids and results: letters, digits and _ . - (not a built-in id)
    PATH      the model file; a SavedModel is its directory. PATH may contain commas, but not ",word=".
    dataset=  mnist | cityscapes (required): eval set and calibration data, see DATASETS
    format=   keras | saved_model | frozen_graph | tflite (default: recognised from the file)
    task=     classification | segmentation (default: the dataset's; must agree with it)
    inputs=   frozen graphs: the input array, e.g. sub_7 (required for frozen graphs)
    outputs=  frozen graphs: the output array, e.g. ResizeBilinear_2 (required for frozen graphs)
    shape=    input shape NxHxWxC, e.g. 1x256x512x3: the size the eval frames are resized to (cityscapes)
              or the layout digits are reshaped to (mnist, e.g. 1x28x28x1); frozen graphs get it as
              input_shapes, needed when the placeholder's shape is not fully known
    range=    LO:HI, the float range uint8 pixels are mapped to (default mnist 0:1, cityscapes 0:255;
              DeepLab's preprocessed input ``sub_7`` is in -1:1)

The thesis model: ``deeplab_thesis=frozen_inference_graph.pb,inputs=sub_7,outputs=ResizeBilinear_2,
shape=1x256x512x3,range=-1:1,dataset=cityscapes``. Only one input and one output array: the Runner feeds
input 0 and reads output 0.

Cityscapes comes from ``Workspace.options["cityscapes"]`` (else $CITYSCAPES_DATASET): the first
``options["cityscapes_frames"]`` (default 60, as the thesis) val frames are evaluated, the first 100 train
frames calibrate. The cache holds one file per entry, so a SavedModel is stored as a tar that conversion
unpacks into a temp dir (``unpack_saved_model``); a .tflite is already converted and runs only as it is
(``only_modes``).

Parsing and registration never import TensorFlow (the run stage has none); the frozen graph's array names
are checked against its GraphDef in ``build_source``, which runs only when the cache misses.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from qbench.errors import QbenchError
from qbench.models.registry import EvalSet, ModelSpec

if TYPE_CHECKING:
    from qbench.workspace import Workspace

FORMATS = ("keras", "saved_model", "frozen_graph", "tflite")
KEYS = ("dataset", "format", "task", "inputs", "outputs", "shape", "range")
SYNTAX = "ID=PATH[,dataset=mnist|cityscapes][,format=...][,inputs=NAME,outputs=NAME][,shape=NxHxWxC][,range=LO:HI]"
MNIST_CALIBRATION = 100  # as mnist_cnn (thesis Code Listing 3.10)
CITYSCAPES_CALIBRATION = 100  # first frames of the train split; the eval frames come from val
CITYSCAPES_SIZE = (256, 512)


def _text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _sample_shape(shape: tuple[int, ...] | None, default: tuple[int, ...], what: str) -> tuple[int, ...]:
    """Per-sample input shape: the dataset's own, or the user's ``shape`` without its batch dimension."""
    if shape is None:
        return default
    if len(shape) < 2 or int(np.prod(shape[1:])) != int(np.prod(default)):
        raise QbenchError(f"shape={_text(shape)} does not hold {what}", f"give Nx{_text(default)}")
    return shape[1:]


def _mnist_shape(shape):
    return _sample_shape(shape, (28, 28), "a 28x28 MNIST digit")


def _mnist_eval(ws: Workspace, spec: ImportedModel) -> EvalSet:
    mnist = ws.mnist()
    return EvalSet(spec.scale(mnist.x_test, _mnist_shape(spec.input_shape)), mnist.y_test, 10, tuple("0123456789"))


def _mnist_calibration(ws: Workspace, spec: ImportedModel) -> np.ndarray:
    return spec.scale(ws.mnist().x_train[:MNIST_CALIBRATION], _mnist_shape(spec.input_shape))


def _cityscapes_shape(shape):
    if shape is None:
        return (*CITYSCAPES_SIZE, 3)
    if len(shape) != 4 or shape[3] != 3:
        raise QbenchError(f"shape={_text(shape)} is not an RGB frame shape", "give Nx(height)x(width)x3")
    return shape[1:]


def _cityscapes(ws: Workspace, spec: ImportedModel, split: str, frames: int):
    from qbench.data import cityscapes

    height, width, _ = _cityscapes_shape(spec.input_shape)
    return cityscapes.load(ws.options.get("cityscapes"), split, frames, height, width)


def _cityscapes_eval(ws: Workspace, spec: ImportedModel) -> EvalSet:
    from qbench.data.cityscapes import THESIS_FRAMES

    data = _cityscapes(ws, spec, "val", ws.options.get("cityscapes_frames", THESIS_FRAMES))
    shape = _cityscapes_shape(spec.input_shape)
    return EvalSet(spec.scale(data.images, shape), data.labels, len(data.class_names), data.class_names)


def _cityscapes_calibration(ws: Workspace, spec: ImportedModel) -> np.ndarray:
    data = _cityscapes(ws, spec, "train", CITYSCAPES_CALIBRATION)
    return spec.scale(data.images, _cityscapes_shape(spec.input_shape))


def _cityscapes_digest(ws: Workspace, spec: ImportedModel) -> str:
    from qbench.data import cityscapes

    height, width, _ = _cityscapes_shape(spec.input_shape)
    frames = cityscapes.list_frames(ws.options.get("cityscapes"), "train", CITYSCAPES_CALIBRATION)
    return cityscapes.digest(frames, height, width)


@dataclass(frozen=True)
class Dataset:
    """What an imported model is evaluated and calibrated on."""

    task: str
    default_range: tuple[float, float]
    sample_shape: Callable[[tuple[int, ...] | None], tuple[int, ...]]  # raises QbenchError if shape= cannot fit
    eval_set: Callable[[Workspace, ImportedModel], EvalSet]
    calibration: Callable[[Workspace, ImportedModel], np.ndarray]
    digest: Callable[[Workspace, ImportedModel], str]  # identifies the calibration data: part of the cache key


DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        "classification", (0.0, 1.0), _mnist_shape, _mnist_eval, _mnist_calibration, lambda ws, spec: ws.mnist().digest
    ),
    "cityscapes": Dataset(
        "segmentation", (0.0, 255.0), _cityscapes_shape, _cityscapes_eval, _cityscapes_calibration, _cityscapes_digest
    ),
}


def _dataset_choices() -> str:
    return " or ".join(f"dataset={d}" for d in DATASETS)


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


def _stamp(path: Path) -> tuple:
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


def check_frozen_graph(path: Path, inputs: list[str], outputs: list[str], has_shape: bool) -> None:
    """Fail with the names that do exist when the named arrays are not in the graph (the converter's own
    error is a stack trace), and when the input's shape is unknown and no shape= was given."""
    from google.protobuf.message import DecodeError

    from qbench.convert import tensorflow

    graph = tensorflow().compat.v1.GraphDef()
    try:
        graph.ParseFromString(path.read_bytes())
    except DecodeError:
        graph.Clear()
    nodes = {n.name: n for n in graph.node}
    if not nodes:
        raise QbenchError(
            f"{path} is not a frozen GraphDef (no nodes)", "export the graph with tf.io.write_graph(..., as_text=False)"
        )
    consumed = {i.lstrip("^").split(":")[0] for n in graph.node for i in n.input}
    candidates = {
        "input": [n.name for n in graph.node if n.op == "Placeholder"],
        "output": [n.name for n in graph.node if n.name not in consumed and n.op not in ("Const", "NoOp")],
    }
    kind_name = {"input": "placeholders", "output": "unconsumed nodes"}
    for kind, names in (("input", inputs), ("output", outputs)):
        missing = [a for a in names if a.split(":")[0] not in nodes]
        if missing:
            what, shown = (kind_name[kind], candidates[kind]) if candidates[kind] else ("nodes", list(nodes))
            raise QbenchError(
                f"frozen graph {path.name} has no {kind} array {', '.join(missing)}; "
                f"{what} that exist: {', '.join(shown[:8])}",
                f"set {kind}s= to an existing node name (a viewer such as Netron shows them all)",
            )
    for name in [] if has_shape else inputs:
        node = nodes[name.split(":")[0]]
        dims = node.attr["shape"].shape if "shape" in node.attr else None
        # only a placeholder must say its shape; an intermediate input (thesis: sub_7) has it inferred
        if node.op == "Placeholder" and (dims is None or dims.unknown_rank or any(d.size < 0 for d in dims.dim[1:])):
            raise QbenchError(
                f"input {name} of {path.name} has no fully known shape", "add shape=NxHxWxC (e.g. shape=1x256x512x3)"
            )


class ImportedModel(ModelSpec):
    """A user's model file with the dataset it is evaluated on; see the module docstring."""

    def __init__(
        self,
        id: str,
        path: Path | str,
        *,
        dataset: str,
        format: str | None = None,
        task: str | None = None,
        input_arrays: list[str] | None = None,
        output_arrays: list[str] | None = None,
        input_shape: tuple[int, ...] | None = None,
        input_range: tuple[float, float] | None = None,
    ):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", id or ""):
            raise QbenchError(f"model id {id!r} is not usable", "use letters, digits, _ . - (e.g. deeplab_thesis)")
        if dataset not in DATASETS:
            raise QbenchError(f"model {id}: unknown dataset {dataset!r}", f"use {_dataset_choices()}")
        self.id, self.dataset, self.path = id, DATASETS[dataset], Path(path).expanduser().absolute()
        self.dataset_id = dataset
        if not self.path.exists():
            raise QbenchError(f"model {id}: {self.path} does not exist", "give the model file or SavedModel folder")
        self.format = self._format(format)
        self.task = task or self.dataset.task
        if self.task != self.dataset.task:
            raise QbenchError(f"model {id}: task {self.task} does not fit dataset {dataset} ({self.dataset.task})",
                              f"drop task= or use task={self.dataset.task}")
        self.input_arrays, self.output_arrays = list(input_arrays or []), list(output_arrays or [])
        if self.format == "frozen_graph":
            if len(self.input_arrays) != 1 or len(self.output_arrays) != 1:
                raise QbenchError(f"model {id}: a frozen graph needs exactly one inputs= and one outputs= array",
                                  "e.g. inputs=sub_7,outputs=ResizeBilinear_2 (as in thesis Code Listing 3.7)")
        elif self.input_arrays or self.output_arrays:
            raise QbenchError(f"model {id}: inputs=/outputs= apply to frozen graphs only, not {self.format}",
                              "drop them (the model's own signature names its arrays)")
        self.input_shape = tuple(input_shape) if input_shape else None
        self.sample_shape = self.dataset.sample_shape(self.input_shape)
        self.input_range = tuple(input_range) if input_range else self.dataset.default_range
        if not self.input_range[0] < self.input_range[1]:
            raise QbenchError(f"model {id}: range {self.input_range} is empty", "give range=LO:HI with LO < HI")
        self.description = f"imported {self.format} {self.path.name}, evaluated on {dataset}"
        suffix = {"keras": self.path.suffix, "saved_model": ".tar", "frozen_graph": ".pb", "tflite": ".tflite"}
        self.source_filename = "model" + suffix[self.format]
        self.source_format = self.format
        # v1 frozen-graph conversion fixes the batch to 1; a .tflite's batch is whatever it was exported with
        fixed_batch = self.format in ("frozen_graph", "tflite")
        self.eval_batch = 1 if fixed_batch else (250 if self.task == "classification" else 4)
        #: Modes this model can be built in (None: all). A .tflite is already converted and can only run
        #: as it is, which the matrix calls float32; the plugin should skip the other modes for it.
        self.only_modes = ("float32",) if self.format == "tflite" else None
        self._sha: tuple[tuple, str] | None = None

    def _format(self, given: str | None) -> str:
        evident = sniff(self.path)
        if given is not None and given not in FORMATS:
            raise QbenchError(f"model {self.id}: unknown format {given!r}", f"use one of {', '.join(FORMATS)}")
        fmt = given or evident or ("frozen_graph" if self.path.suffix == ".pb" else None)
        if fmt is None:
            raise QbenchError(
                f"model {self.id}: cannot tell the format of {self.path}",
                f"add format={'|'.join(FORMATS)}",
            )
        # keras, tflite and SavedModels have a signature; a frozen graph is any other file
        wrong = (evident is not None or self.path.is_dir()) if fmt == "frozen_graph" else evident != fmt
        if wrong:
            looks = f" (it looks like {evident})" if evident else ""
            raise QbenchError(
                f"model {self.id}: {self.path} is not a {fmt} model{looks}",
                f"use format={evident}" if evident else "check the path and format=",
            )
        if fmt == "keras" and self.path.suffix not in (".keras", ".h5"):
            raise QbenchError(f"model {self.id}: Keras 3 loads only .keras and .h5 files, not {self.path.name}",
                              "save the model as .keras (model.save('model.keras'))")
        return fmt

    def scale(self, images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """uint8 pixels -> float32 in ``input_range`` (exact for 0:1 and 0:255), reshaped per sample."""
        lo, hi = (np.float32(v) for v in self.input_range)
        x = images.astype(np.float32) * (hi - lo) / np.float32(255) + lo
        return x.reshape(len(x), *shape)

    def sha256(self) -> str:
        """The model's content hash, recomputed only when a file's size or mtime changed."""
        stamp = _stamp(self.path)
        if self._sha is None or self._sha[0] != stamp:
            self._sha = (stamp, content_sha256(self.path))
        return self._sha[1]

    def key_parts(self, ws: Workspace) -> dict[str, Any]:
        return {
            "model": self.id,
            "imported": self.format,
            "sha256": self.sha256(),
            "dataset": self.dataset_id,
            "calibration_data": None if self.format == "tflite" else self.dataset.digest(ws, self),
            "input_shape": self.input_shape,
            "input_range": self.input_range,
        }

    def eval_set(self, ws: Workspace) -> EvalSet:
        return self.dataset.eval_set(ws, self)

    def calibration(self, ws: Workspace) -> np.ndarray:
        return self.dataset.calibration(ws, self)

    def build_source(self, ws: Workspace, path: Path) -> dict[str, Any]:
        if self.format == "frozen_graph":
            check_frozen_graph(self.path, self.input_arrays, self.output_arrays, self.input_shape is not None)
        if self.format == "saved_model":
            pack_saved_model(self.path, path)
        else:
            shutil.copyfile(self.path, path)
        return {"imported_from": str(self.path), "imported_sha256": self.sha256()}

    def converter_args(self) -> dict[str, Any]:
        if self.format != "frozen_graph":
            return {}
        shapes = {self.input_arrays[0]: list(self.input_shape)} if self.input_shape else None
        return {"input_arrays": self.input_arrays, "output_arrays": self.output_arrays, "input_shapes": shapes}


def _valid(text: str, key: str, pattern: str) -> str:
    if not re.fullmatch(pattern, text):
        raise QbenchError(f"{key}={text} is not valid", f"write {key}= like this: {SYNTAX}")
    return text


def parse_model_option(text: str) -> ImportedModel:
    """``ID=PATH[,KEY=VALUE...]`` (see the module docstring) -> ImportedModel; imports no TensorFlow."""
    head, *items = re.split(r",(?=\w+=)", text.strip())
    model_id, sep, path = head.partition("=")
    if not sep or not model_id or not path:
        raise QbenchError(f"model option {text!r} does not start with ID=PATH", f"write {SYNTAX}")
    opts: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in KEYS:
            raise QbenchError(f"model option {model_id}: unknown key {key!r}", f"use {', '.join(KEYS)}")
        if key in opts or not value:
            problem = "repeated" if key in opts else "empty"
            raise QbenchError(f"model option {model_id}: {key}= is {problem}", f"write {SYNTAX}")
        opts[key] = value
    if "dataset" not in opts:
        raise QbenchError(f"model option {model_id}: no dataset=", f"say what it is evaluated on: {_dataset_choices()}")
    for key in ("inputs", "outputs"):
        if "," in opts.get(key, ""):
            raise QbenchError(f"model option {model_id}: {key}={opts[key]} names several arrays",
                              "qbench runs models with one input and one output array")
    shape = opts.get("shape") and tuple(map(int, _valid(opts["shape"], "shape", r"[1-9]\d*(x[1-9]\d*)*").split("x")))
    num = r"-?\d+(\.\d*)?"
    span = opts.get("range") and tuple(map(float, _valid(opts["range"], "range", f"{num}:{num}").split(":")))
    return ImportedModel(
        model_id,
        path,
        dataset=opts["dataset"],
        format=opts.get("format"),
        task=opts.get("task"),
        input_arrays=[opts["inputs"]] if "inputs" in opts else None,
        output_arrays=[opts["outputs"]] if "outputs" in opts else None,
        input_shape=shape or None,
        input_range=span or None,
    )
