"""Real Cityscapes (thesis §3.2), read from the user's own copy: its license forbids redistribution.

The root is the folder that holds ``leftImg8bit/`` and ``gtFine/`` (from leftImg8bit_trainvaltest.zip and
gtFine_trainvaltest.zip), given as an argument or as $CITYSCAPES_DATASET, the variable cityscapesscripts
itself reads. A frame is ``leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png`` with its label
``gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png``. Label ids become the 19 trainIds through
cityscapesscripts' own table (ignored classes -> 255); images are resized bilinearly, labels by nearest
neighbour, to the model's input size. Frames are taken in sorted name order, so "the first 60 frames of
val" (the thesis evaluated 60) is the same set on every machine.

The digest hashes the selected files' bytes (plus the output size), not the decoded arrays: it is cheap
enough to be part of a cache key computed on every run, and the same for every copy of the dataset.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from qbench.data.base import DATASETS, Data, DatasetKind, _file_sha256
from qbench.data.labels import class_names, train_id_lut
from qbench.errors import QbenchError
from qbench.config.options import Option, positive_int

ENV_VAR = "CITYSCAPES_DATASET"
THESIS_FRAMES = 60
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
HOW_TO_SUPPLY = (
    f"download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from https://www.cityscapes-dataset.com "
    f"(free registration), unzip both into one folder and pass it with --qbench-cityscapes or ${ENV_VAR}"
)


@dataclass(frozen=True)
class Frame:
    name: str  # {city}_{seq}_{frame}
    image: Path
    label: Path


@dataclass(frozen=True)
class Cityscapes:
    images: np.ndarray  # uint8 N x H x W x 3 (RGB)
    labels: np.ndarray  # uint8 N x H x W, trainIds 0..18 and 255 (ignore)
    class_names: tuple[str, ...]  # the 19 train classes in trainId order
    names: tuple[str, ...]  # frame names, same order as images
    digest: str


def resolve_root(root: Path | str | None) -> Path:
    raw = root or os.environ.get(ENV_VAR)
    if not raw:
        raise QbenchError(f"no Cityscapes folder given (neither --qbench-cityscapes nor ${ENV_VAR})", HOW_TO_SUPPLY)
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise QbenchError(f"Cityscapes folder {path} does not exist", HOW_TO_SUPPLY)
    for sub in ("leftImg8bit", "gtFine"):
        if not (path / sub).is_dir():
            raise QbenchError(f"Cityscapes folder {path} has no {sub}/ folder", HOW_TO_SUPPLY)
    return path


def _by_name(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.name[: -len(suffix)]: p for p in folder.glob(f"*/*{suffix}")} if folder.is_dir() else {}


def _few(names) -> str:
    names = sorted(names)
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def list_frames(root: Path | str | None, split: str = "val", frames: int | None = THESIS_FRAMES) -> list[Frame]:
    """The first ``frames`` (None: all) image/label pairs of ``split``, sorted by name; pairing is checked
    over the whole split so that a half-copied download is noticed, not silently skipped."""
    if frames is not None and frames < 1:
        raise QbenchError(f"Cityscapes frame count must be at least 1, got {frames}", "ask for 1 or more frames")
    root = resolve_root(root)
    images = _by_name(root / "leftImg8bit" / split, IMAGE_SUFFIX)
    labels = _by_name(root / "gtFine" / split, LABEL_SUFFIX)
    if not images and not labels:
        present = sorted(p.name for p in (root / "leftImg8bit").iterdir() if p.is_dir())
        raise QbenchError(
            f"Cityscapes split {split!r} in {root} has no frames (splits found: {', '.join(present) or 'none'})",
            HOW_TO_SUPPLY,
        )
    if unlabeled := images.keys() - labels.keys():
        raise QbenchError(
            f"{len(unlabeled)} Cityscapes {split} image(s) have no *{LABEL_SUFFIX} in gtFine/{split}: "
            f"{_few(unlabeled)}",
            "unzip gtFine_trainvaltest.zip completely into the same folder as leftImg8bit",
        )
    if orphans := labels.keys() - images.keys():
        raise QbenchError(
            f"{len(orphans)} Cityscapes {split} label(s) have no *{IMAGE_SUFFIX} in leftImg8bit/{split}: "
            f"{_few(orphans)}",
            "unzip leftImg8bit_trainvaltest.zip completely into the same folder as gtFine",
        )
    if frames is not None and frames > len(images):
        raise QbenchError(
            f"{frames} Cityscapes {split} frames requested but {root} has {len(images)}",
            f"ask for at most {len(images)} frames",
        )
    names = sorted(images)[:frames]
    return [Frame(n, images[n], labels[n]) for n in names]


def digest(frames: list[Frame], height: int, width: int) -> str:
    h = hashlib.sha256(f"cityscapes {height}x{width}\n".encode())
    for f in frames:
        for path in (f.image, f.label):
            st = path.stat()
            h.update(f"{f.name} {path.name} {_file_sha256(path, st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()


def _read_frame(frame: Frame, height: int, width: int, lut: np.ndarray, known: np.ndarray):
    with Image.open(frame.image) as img, Image.open(frame.label) as lab:
        if lab.size != img.size:
            raise QbenchError(
                f"label {frame.label} is {lab.size[0]}x{lab.size[1]} but its image {frame.image.name} is "
                f"{img.size[0]}x{img.size[1]}",
                "use the gtFine labels that belong to these leftImg8bit images",
            )
        if lab.mode not in ("L", "P"):
            raise QbenchError(
                f"label {frame.label} is a {lab.mode} PNG, not an 8-bit labelIds map",
                f"use the *{LABEL_SUFFIX} files (not *_color.png or *_instanceIds.png)",
            )
        ids = np.asarray(lab)
        if not known[ids].all():
            bad = [int(v) for v in np.unique(ids[~known[ids]])]
            raise QbenchError(
                f"label {frame.label} has values {bad} that are not Cityscapes label ids",
                f"use the original *{LABEL_SUFFIX} files (ids 0..33)",
            )
        image = img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        label = lab.resize((width, height), Image.Resampling.NEAREST)
    return np.asarray(image, np.uint8), lut[np.asarray(label)]


def load(
    root: Path | str | None = None,
    split: str = "val",
    frames: int | None = THESIS_FRAMES,
    height: int = 256,
    width: int = 512,
) -> Cityscapes:
    """The first ``frames`` frames of ``split`` at ``height`` x ``width``, labels as trainIds."""
    chosen = list_frames(root, split, frames)
    lut, known = train_id_lut()
    images = np.empty((len(chosen), height, width, 3), np.uint8)
    labels = np.empty((len(chosen), height, width), np.uint8)
    for i, frame in enumerate(chosen):
        images[i], labels[i] = _read_frame(frame, height, width, lut, known)
    return Cityscapes(images, labels, class_names(), tuple(f.name for f in chosen), digest(chosen, height, width))


CALIBRATION_FRAMES = 100  # the first frames of the train split; the evaluated frames come from val
DEFAULT_SIZE = (256, 512)  # the thesis's DeepLab input
OPTIONS = (
    Option("cityscapes", "real Cityscapes root (leftImg8bit/, gtFine/)", "DIR", env=ENV_VAR),
    Option("cityscapes-frames", "Cityscapes val frames to evaluate (the thesis used 60)", "N",
           parse=positive_int("the Cityscapes frame count"), default=THESIS_FRAMES),
)


@DATASETS.register
class CityscapesKind(DatasetKind):
    """``dataset=cityscapes``: your copy of Cityscapes (see the module docstring); frames are resized while read,
    to the model's input size (256x512 unless its shape says otherwise)."""

    id = "cityscapes"
    task = "segmentation"
    description = "your Cityscapes copy (--qbench-cityscapes or $CITYSCAPES_DATASET): val frames, 19 train classes"
    example = ("--qbench-model deeplab_thesis=frozen_inference_graph.pb,inputs=sub_7,outputs=ResizeBilinear_2,"
               "shape=1x256x512x3,range=-1:1,dataset=cityscapes")
    takes_path = False
    default_range = (0.0, 255.0)
    options = OPTIONS

    def load(self, path, ctx, fit=None) -> Data:
        height, width = (fit[0], fit[1]) if fit is not None and len(fit) == 3 else DEFAULT_SIZE
        root = ctx.settings.get("cityscapes")
        evaluated = load(root, "val", ctx.settings.get("cityscapes_frames") or THESIS_FRAMES, height, width)
        calibration = load(root, "train", CALIBRATION_FRAMES, height, width)
        return Data(origin=f"Cityscapes ({resolve_root(root)})", calibration=calibration.images,
                    eval_x=evaluated.images, eval_y=evaluated.labels.astype(np.int64),
                    digest=f"{evaluated.digest}+{calibration.digest}", class_names=evaluated.class_names,
                    eval_names=evaluated.names,
                    split_rule="the first 100 train frames calibrate; the first N val frames are evaluated")

