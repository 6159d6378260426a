"""The thesis's MNIST classifier (Code Listings 3.1-3.4), trained deterministically by the suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qbench import progress
from qbench.models.registry import EvalSet, ModelSpec, register
from qbench.versions import build_versions

EPOCHS = 5
SEED = 0
CALIBRATION_SAMPLES = 100  # thesis Code Listing 3.10: train_images.batch(1).take(100)


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


class MnistCnn(ModelSpec):
    id = "mnist_cnn"
    task = "classification"
    description = "thesis MNIST CNN (Conv2D 12 3x3, MaxPool, Dense 10), 5 epochs Adam"
    floors = {"accuracy": 0.975}  # the thesis model reaches ~0.98 after 5 epochs

    def key_parts(self, ws) -> dict[str, Any]:
        return {
            "model": self.id,
            "recipe": 1,  # bump when build_keras/training changes
            "epochs": EPOCHS,
            "seed": SEED,
            "data": ws.mnist().digest,
            "versions": build_versions(),
        }

    def eval_set(self, ws) -> EvalSet:
        mnist = ws.mnist()
        return EvalSet(normalize(mnist.x_test), mnist.y_test, num_classes=10, class_names=tuple("0123456789"))

    def calibration(self, ws) -> np.ndarray:
        return normalize(ws.mnist().first_train_images(CALIBRATION_SAMPLES))

    def build_source(self, ws, path: Path) -> dict[str, Any]:
        from qbench.tf import deterministic_tensorflow

        deterministic_tensorflow(SEED)
        import keras

        mnist = ws.mnist()
        model = build_keras()
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        progress.log(f"training {self.id}: {EPOCHS} epochs on {len(mnist.x_train)} images (seed {SEED})")
        history = model.fit(normalize(mnist.x_train), mnist.y_train, epochs=EPOCHS, verbose=2)
        _, test_acc = model.evaluate(normalize(mnist.x_test), mnist.y_test, verbose=0)
        progress.log(f"{self.id}: Keras test accuracy {test_acc:.4f}")
        model.save(path)
        return {"keras_test_accuracy": float(test_acc), "train_accuracy": float(history.history["accuracy"][-1])}


register(MnistCnn())
