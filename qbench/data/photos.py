"""``dataset=photos:SET``: real photographs, cropped the way a pretrained model expects, for the fidelity task.

No photo dataset can be downloaded here, but scikit-image's PyPI wheel carries its sample photographs
(``skimage/data/``: astronaut Eileen Collins, the cameraman, Chelsea the cat, ... and a subset of Labeled Faces in
the Wild). qbench fetches that one wheel with a pinned sha256 (never installs it) and crops regions of interest:

- ``faces``: evaluated on the astronaut's and the cameraman's faces, 12 jittered crops each (shift within 10 %,
  scale 0.85-1.2, seed 0), as a face detector's short-range input sees them; calibrated on the 100 LFW faces
  (other people's photographs, 25 x 25 grey, upscaled). Adding colour scene crops to the calibration set was
  tried and made static int8 worse (8.6 vs 10.3 dB SNR): wider ranges, coarser steps;
- ``eyes``: evaluated on the astronaut's two eyes and the cameraman's eye, 12 jittered crops each (right eyes
  mirrored, as MediaPipe feeds its iris model); calibrated on Chelsea's two eyes (another photograph);
- ``scenes``: 8 seeded crops of each of eight colour photographs; three of them calibrate, five are evaluated.

Calibration and evaluation never share a photograph. Crops keep their own size; ``qbench.data.preprocess`` resizes
them to the model's input (bilinear) and ``range=`` maps the pixels.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbench.cache import code_digest
from qbench.data.base import DATASETS, Data, DatasetKind, digest_arrays
from qbench.data.wheel import Wheel, read_member
from qbench.errors import QbenchError

SKIMAGE = Wheel("scikit-image==0.25.2", "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641", 15)
DATA = "skimage/data/"
JITTERS = 12
SEED = 0
FIX = "check the network access to PyPI (scikit-image's wheel carries the photographs)"


@dataclass(frozen=True)
class Region:
    photo: str
    center: tuple[int, int]  # x, y in the photograph
    size: int  # side of the square crop
    mirror: bool = False


EYES = (Region("astronaut.png", (203, 101), 40), Region("astronaut.png", (245, 101), 40, mirror=True),
        Region("camera.png", (233, 148), 44, mirror=True))
CAT_EYES = (Region("chelsea.png", (172, 113), 84), Region("chelsea.png", (318, 135), 64, mirror=True))
FACES = (Region("astronaut.png", (225, 110), 140), Region("camera.png", (217, 145), 112))
SCENES_EVAL = ("coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png")
SCENES_CALIBRATION = ("retina.jpg", "color.png", "motorcycle_right.png")
LFW = "lfw_subset.npy"
SETS = ("faces", "eyes", "scenes")
MEMBERS = tuple(DATA + n for n in sorted({r.photo for r in (*EYES, *CAT_EYES, *FACES)}
                                         | set(SCENES_EVAL) | set(SCENES_CALIBRATION) | {LFW}))


def _photo(zipped, name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(read_member(zipped, DATA + name))) as img:
        return np.asarray(img.convert("RGB"), np.uint8)


def _crop(image: np.ndarray, cx: float, cy: float, size: float, mirror: bool) -> np.ndarray:
    half = size / 2
    h, w = image.shape[:2]
    x0, y0 = int(round(min(max(cx - half, 0), w - size))), int(round(min(max(cy - half, 0), h - size)))
    crop = image[y0 : y0 + int(size), x0 : x0 + int(size)]
    return crop[:, ::-1].copy() if mirror else crop.copy()


def jittered(image: np.ndarray, region: Region, rng: np.random.Generator) -> list[np.ndarray]:
    crops = []
    for _ in range(JITTERS):
        scale = rng.uniform(0.85, 1.2)
        dx, dy = rng.uniform(-0.1, 0.1, 2) * region.size
        crops.append(_crop(image, region.center[0] + dx, region.center[1] + dy, region.size * scale, region.mirror))
    return crops


def _scene_crops(image: np.ndarray, rng: np.random.Generator, count: int = 8) -> list[np.ndarray]:
    h, w = image.shape[:2]
    crops = []
    for _ in range(count):
        size = rng.uniform(0.3, 0.8) * min(h, w)
        crops.append(_crop(image, rng.uniform(size / 2, w - size / 2), rng.uniform(size / 2, h - size / 2), size, False))
    return crops


def _objects(images: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(images), object)
    out[:] = images
    return out


def crop_set(zipped, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration crops, evaluation crops) of one set."""
    rng = np.random.default_rng(SEED)
    if name == "faces":
        evaluated = [c for r in FACES for c in jittered(_photo(zipped, r.photo), r, rng)]
        lfw = np.load(io.BytesIO(read_member(zipped, DATA + LFW)))[:100]  # the first 100 are faces
        calibration = [np.repeat((255 * face).round().astype(np.uint8)[..., None], 3, axis=-1) for face in lfw]
    elif name == "eyes":
        evaluated = [c for r in EYES for c in jittered(_photo(zipped, r.photo), r, rng)]
        calibration = [c for r in CAT_EYES for c in jittered(_photo(zipped, r.photo), r, rng)]
    else:
        evaluated = [c for p in SCENES_EVAL for c in _scene_crops(_photo(zipped, p), rng)]
        calibration = [c for p in SCENES_CALIBRATION for c in _scene_crops(_photo(zipped, p), rng)]
    return calibration, evaluated


@DATASETS.register
class PhotosKind(DatasetKind):
    id = "photos"
    task = "fidelity"
    description = "real photographs from scikit-image's wheel, cropped: faces | eyes | scenes"
    example = "--qbench-model face=face_detection_short_range.tflite,dataset=photos:faces,range=-1:1"
    default_range = (0.0, 255.0)

    def resolve(self, raw: str | None) -> Path | None:
        return Path(raw) if raw else None  # a crop set's name, not a path

    def check_path(self, path: Path | None) -> None:
        if path is None or str(path) not in SETS:
            raise QbenchError(f"dataset=photos needs a crop set, one of {', '.join(SETS)}",
                              "e.g. dataset=photos:faces (see qbench/data/photos.py)")

    def load(self, path, ctx, fit=None) -> Data:
        zipped = SKIMAGE.extract(ctx.cache, MEMBERS, FIX)
        calibration, evaluated = crop_set(zipped, str(path))
        return Data(
            origin=f"photos:{path} (scikit-image 0.25.2 sample photographs)",
            calibration=_objects(calibration),
            eval_x=_objects(evaluated),
            eval_y=None,
            digest=digest_arrays(f"photos:{path}:{zipped.sha256}:{code_digest(sys.modules[__name__])}"),
            split_rule="calibration and evaluation crops come from different photographs",
        )

