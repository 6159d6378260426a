"""Real pretrained models that nobody here trained: MediaPipe's, from the PyPI wheel ``mediapipe==0.10.18``.

The wheel is fetched with ``pip download --no-deps`` and its sha256 pinned (never installed: its numpy<2 pin
conflicts with ours); the .tflite files are taken out of it into the cache. They ship as ready .tflite files, so
the converter's modes do not apply (their cases skip with the reason) and ai-edge-quantizer's do, where the
weights are float32. They have no labels here: each is scored with the fidelity task on real photographs
(``dataset=photos:...``), cropped and scaled as MediaPipe feeds it (its graphs: the face detector takes a
128 x 128 RGB crop in [-1, 1], the iris model a 64 x 64 eye crop in [0, 1], right eyes mirrored).

The face detector stores float16 weights (a DEQUANTIZE in front of each), which ai-edge-quantizer does not take:
its aeq-* cases skip with that reason. They are not in the default selection (``--qbench-models
mp_iris_landmark,mp_face_detection``, or ``all``): the first use downloads ~50 MB of wheels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qbench.data.wheel import Wheel, read_member
from qbench.models.fitted import DataFitted
from qbench.models.base import MODELS

MEDIAPIPE = Wheel("mediapipe==0.10.18", "12db0f7b1cc18e2e3f604f6e95020b82c214c470d7d94ff32eeb8f8729a45ec3", 36)
FIX = "check the network access to PyPI (the models come from the mediapipe wheel)"
MEMBERS = {
    "mp_face_detection": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "mp_iris_landmark": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
}


class MediapipeModel(DataFitted):
    task = "fidelity"
    source_format = "tflite"
    source_filename = "model.tflite"
    eval_batch = 1  # exported with a fixed batch of 1
    default = False
    origin = "pretrained"

    def __init__(self, id: str, dataset: str, input_range: tuple[float, float], description: str):
        self.id, self.input_range, self.description = id, input_range, description
        self.member = MEMBERS[id]
        self.set_dataset(dataset)

    def key_parts(self, ctx) -> dict[str, Any]:
        return {"model": self.id, "wheel": MEDIAPIPE.requirement, "sha256": MEDIAPIPE.sha256, "member": self.member}

    def build_source(self, ctx, path: Path) -> dict[str, Any]:
        path.write_bytes(read_member(MEDIAPIPE.extract(ctx.cache, tuple(MEMBERS.values()), FIX), self.member))
        return {"wheel": MEDIAPIPE.requirement, "member": self.member}


MODELS.register(MediapipeModel("mp_face_detection", "photos:faces", (-1.0, 1.0),
                        "MediaPipe BlazeFace short-range face detector (pretrained; boxes + scores, 896 anchors)"))
MODELS.register(MediapipeModel("mp_iris_landmark", "photos:eyes", (0.0, 1.0),
                        "MediaPipe iris landmarks (pretrained; 71 eye-contour + 5 iris points from a 64x64 eye)"))
