"""A worked example of a new dataset kind: one module, one registration (``@DATASETS.register``).

``dataset=toy-gradients`` needs no files: it draws 28x28 greyscale images of a brightness gradient in one of four
directions (the class) from a fixed seed. A kind reads or draws its data in ``load`` and returns a ``Data``: raw
calibration and evaluation samples as the files hold them (uint8 pixels here, mapped to the model's ``range=``
later), labels, a digest of the content (it keys every artifact calibrated on it), and, where there is one, a
training split. ``ctx`` gives the settings and the cache; ``fit`` the model's per-sample input size when known.
"""

from __future__ import annotations

import numpy as np

from qbench.data.base import DATASETS, Data, DatasetKind, digest_arrays

CLASSES = ("left", "right", "up", "down")


def gradients(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CLASSES), n)
    ramp = np.linspace(0, 255, 28)
    images = np.empty((n, 28, 28), np.uint8)
    for i, label in enumerate(y):
        field = np.tile(ramp, (28, 1))
        field = {0: field[:, ::-1], 1: field, 2: field.T[::-1], 3: field.T}[int(label)]
        images[i] = np.clip(field + rng.normal(0, 20, (28, 28)), 0, 255).astype(np.uint8)
    return images, y.astype(np.int64)


@DATASETS.register
class ToyGradients(DatasetKind):
    id = "toy-gradients"
    task = "toy-agreement"  # the task its labels support (tests/extensions/toy_task.py)
    description = "four-direction brightness gradients, drawn from a seed (a worked example)"
    example = "--qbench-model toy=model.tflite,dataset=toy-gradients"
    takes_path = False

    def load(self, path, ctx, fit=None) -> Data:
        calibration, _ = gradients(20, seed=1)
        x, y = gradients(64, seed=2)
        return Data(origin="toy-gradients", calibration=calibration, eval_x=x, eval_y=y,
                    digest=digest_arrays("toy-gradients", calibration, x, y), class_names=CLASSES,
                    training=lambda: gradients(256, seed=3), split_rule="calibration and evaluation use other seeds")
