"""DeepLabV3+-lite (MobileNetV2) on procedural Cityscapes-style scenes: the thesis's segmentation study,
reproducible offline.

No package ships Cityscapes images or a Cityscapes-trained model, so the suite trains its own DeepLab-style
model on ``dataset=scenes`` (``qbench.data.scene_frames``: 19 Cityscapes train classes, exact labels) and evaluates
it on a held-out split, as any data-fitted model. The frame size is an option (``--qbench-seg-size``, default 256x512
as the thesis's input); it and the width (``--qbench-seg-alpha``) are declared here and reach the plugin and the CLI
from this declaration. The default variant's weights ship (``qbench.models.shipped``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from qbench import progress
from qbench.config.options import Option
from qbench.data import scene_frames
from qbench.data.labels import NUM_CLASSES
from qbench.data.scene_frames import TRAIN_FRAMES
from qbench.errors import QbenchError
from qbench.models import deeplab
from qbench.models.base import MODELS, ModelIO
from qbench.models.fitted import DataFitted
from qbench.models.trained import TrainedModel
from qbench.tasks.base import OutputInfo

DEFAULT_SIZE = (256, 512)
SEED = 0
ALPHA = 0.35
OUTPUT = "StatefulPartitionedCall_1:0"  # the float32 file's output tensor, as the converter names it
EPOCHS = 8
BATCH = 4
LEARNING_RATE = 8e-3
CLASS_WEIGHT_POWER = 0.75
LOSS_STRIDE = 4  # loss on every 4th pixel per axis: ~2.5x faster epochs than full resolution
PROBE_FRAMES = 32  # training frames whose content stands for the training split in the recipe (1.7 s to render)


def parse_size(text: str | None) -> tuple[int, int]:
    """``HxW`` (multiples of 16, at least 32) or the default 256x512."""
    if not text:
        return DEFAULT_SIZE
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise QbenchError(f"segmentation size {text!r} is not HxW", "e.g. --qbench-seg-size 128x256") from None
    if h % 16 or w % 16 or h < 32 or w < 32:
        raise QbenchError(f"segmentation size {h}x{w} is not made of multiples of 16 (>= 32)",
                          "MobileNetV2's output stride 16 needs it: e.g. 128x256 or 256x512")
    return h, w


def parse_alpha(text: str | float | None) -> float:
    """MobileNetV2's width multiplier: 0 < alpha <= 1.4, default 0.35 (the one the floors were set for)."""
    if text is None or text == "":
        return ALPHA
    try:
        alpha = float(text)
    except ValueError:
        raise QbenchError(f"width multiplier {text!r} is not a number", "e.g. --qbench-seg-alpha 0.5") from None
    if not 0 < alpha <= 1.4:
        raise QbenchError(f"width multiplier {alpha:g} is outside (0, 1.4]",
                          "MobileNetV2's widths run from a fraction of the network up to 1.4: e.g. 0.35, 0.5, 1.0")
    return alpha


OPTIONS = (
    Option("seg-size", "frame size of the built-in segmentation workload (default 256x512; CI retrains at 64x128)",
           "HxW", parse=parse_size),
    Option("seg-alpha", "MobileNetV2 width multiplier of the built-in segmentation model (default 0.35)", "A",
           parse=parse_alpha),
)


@MODELS.register
class DeeplabScenes(TrainedModel, DataFitted):
    """The segmentation model on ``dataset=scenes`` at ``--qbench-seg-size`` (raw pixels: the model rescales)."""

    id = "deeplab_scenes"
    task = "segmentation"
    description = "DeepLabV3+-lite MobileNetV2 (alpha 0.35 by default) trained on procedural Cityscapes-style scenes"
    eval_batch = 4
    input_range = (0.0, 255.0)
    options = OPTIONS
    # At the default 256x512: seed 0 with these settings scores 0.553 float32 mIoU on the 60 eval frames
    # (x86_64, TF 2.21). Thin margin: other initialisations spread about +-0.03 (tuning runs 0.539-0.578).
    floors = {"miou": 0.55}
    #: Smaller frames (CI) hold less detail, and another width is untested: only a sanity floor, well above
    #: what a colour lookup scores. CI's retraining at 64x128: seed 0 scores 0.364 float32 mIoU, int8 0.364
    #: (x86_64 AMD EPYC, TF 2.21).
    small_floors = {"miou": 0.30}

    training_code = (deeplab.train, deeplab.train_model, deeplab.masked_sparse_ce, deeplab.class_weights_from_labels,
                     deeplab._fused_bn_class, deeplab._all_layers)

    def __init__(self):
        self.set_dataset("scenes")

    def floors_for(self, settings) -> dict[str, float]:
        return dict(self.floors if self.ships(settings) else self.small_floors)

    def ships(self, settings) -> bool:
        return self.size(settings) == DEFAULT_SIZE and self.alpha(settings) == ALPHA

    def size(self, settings) -> tuple[int, int]:
        return settings.get("seg_size") or DEFAULT_SIZE

    def alpha(self, settings) -> float:
        return settings.get("seg_alpha") or ALPHA

    def declared_io(self, settings) -> ModelIO:
        h, w = self.size(settings)
        return ModelIO((h, w, 3), (OutputInfo(OUTPUT, (h, w, NUM_CLASSES), None),))

    def hyper(self, ctx) -> dict[str, Any]:
        return {"size": list(self.size(ctx.settings)), "alpha": self.alpha(ctx.settings), "frames": TRAIN_FRAMES,
                "epochs": EPOCHS, "batch": BATCH, "lr": LEARNING_RATE, "class_weight_power": CLASS_WEIGHT_POWER,
                "loss_stride": LOSS_STRIDE, "seed": SEED}

    def training_data(self, ctx) -> dict[str, Any]:
        """The first ``PROBE_FRAMES`` training frames stand for the split: it is the same generator's seeds 0..599,
        and a shipped model is used without drawing the other 568."""
        return {"train_probe": scene_frames.probe_digest(ctx.cache, "train", PROBE_FRAMES, self.size(ctx.settings)),
                "probe_frames": PROBE_FRAMES}

    def builder(self, ctx):
        h, w = self.size(ctx.settings)
        return deeplab.build_model, {"height": h, "width": w, "alpha": self.alpha(ctx.settings)}

    def train(self, ctx, path: Path) -> dict[str, Any]:
        from qbench.tf import deterministic_tensorflow

        deterministic_tensorflow(SEED)
        images, labels = self.data(ctx).training()
        h, w = self.size(ctx.settings)
        alpha = self.alpha(ctx.settings)
        progress.log(f"training {self.id} (alpha {alpha:g}) at {h}x{w}: {EPOCHS} epochs on {len(images)} frames "
                     f"(seed {SEED})")
        model = deeplab.train_model(
            images, labels, alpha=alpha, seed=SEED, epochs=EPOCHS, batch_size=BATCH,
            learning_rate=LEARNING_RATE, class_weight_power=CLASS_WEIGHT_POWER, loss_stride=LOSS_STRIDE,
            log=lambda msg: progress.log(f"{self.id}: {msg}"),
        )
        model.save(path)
        return {"train_frames": len(images), "history": model.history_log}
