"""The thesis's MNIST classifier (Code Listings 3.1-3.4), trained deterministically by the suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qbench import progress
from qbench.models.base import MODELS, ModelIO
from qbench.models.fitted import DataFitted
from qbench.models.trained import TrainedModel
from qbench.tasks.base import OutputInfo

EPOCHS = 5
SEED = 0
OUTPUT = "StatefulPartitionedCall_1:0"  # the float32 file's output tensor, as the converter names it


def normalize(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32)
    x /= 255.0  # Code Listing 3.1 (in place: one float copy of the test set, not two)
    return x


def build_keras():
    """InputLayer 28x28 -> Reshape 28x28x1 -> Conv2D 12 3x3 relu -> MaxPool 2x2 -> Flatten -> Dense 10.

    The batch dimension stays dynamic (None) so that the converted model can be evaluated batched.
    """
    import keras

    return keras.Sequential(
        [
            keras.layers.Input(shape=(28, 28)),
            keras.layers.Reshape(target_shape=(28, 28, 1)),
            keras.layers.Conv2D(filters=12, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )


def fit_model(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, path: Path,
              log=print) -> dict[str, Any]:
    """Train ``build_keras()`` as the thesis did (Adam, sparse cross-entropy on logits, batch 32, ``EPOCHS``) on
    normalized images, seeded and deterministic, and save it at ``path``; what training reported."""
    from qbench.tf import deterministic_tensorflow

    deterministic_tensorflow(SEED)
    import keras

    model = build_keras()
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    log(f"training mnist_cnn: {EPOCHS} epochs on {len(x_train)} images (seed {SEED})")
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    log(f"mnist_cnn: Keras test accuracy {test_acc:.4f}")
    model.save(path)
    return {"keras_test_accuracy": float(test_acc), "train_accuracy": float(history.history["accuracy"][-1]),
            "train_loss": [float(v) for v in history.history["loss"]]}


@MODELS.register
class MnistCnn(TrainedModel, DataFitted):
    """The thesis's classifier on ``dataset=mnist`` (pixels to [0, 1], as Code Listing 3.1), trained by ``fit_model``."""

    id = "mnist_cnn"
    task = "classification"
    description = "thesis MNIST CNN (Conv2D 12 3x3, MaxPool, Dense 10), 5 epochs Adam"
    floors = {"accuracy": 0.975}  # the thesis model reaches ~0.98 after 5 epochs
    input_range = (0.0, 1.0)
    training_code = (fit_model, normalize)

    def __init__(self):
        self.set_dataset("mnist")

    def declared_io(self, settings) -> ModelIO:
        return ModelIO((28, 28), (OutputInfo(OUTPUT, (10,), None),))

    def hyper(self, ctx) -> dict[str, Any]:
        return {"epochs": EPOCHS, "seed": SEED, "batch": 32, "optimizer": "adam"}

    def training_data(self, ctx) -> dict[str, Any]:
        return {"mnist": self.data(ctx).digest}

    def builder(self, ctx):
        return build_keras, {}

    def train(self, ctx, path: Path) -> dict[str, Any]:
        data = self.data(ctx)
        x_train, y_train = data.training()
        return fit_model(normalize(x_train), y_train, normalize(data.eval_x), data.eval_y, path, log=progress.log)
