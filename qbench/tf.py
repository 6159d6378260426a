"""TensorFlow, imported only where the build stage needs it (training, conversion, graph checks).

A leaf module: the model builders, the converter backend and the frozen-graph checks import it, and nothing it
imports leads back to them. The run stage (a Pi with a bundle) has no TensorFlow and never calls it.
"""

from __future__ import annotations

import os

from qbench.errors import QbenchError


def tensorflow():
    """Import TensorFlow quietly, with a clear error where only the run stage is installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        raise QbenchError(
            "an artifact is missing from the cache and building it needs TensorFlow, which is not installed",
            "build on a machine with requirements/build.txt (`qbench build --out DIR`) "
            "and run here with --qbench-bundle DIR",
        ) from None
    return tf


def deterministic_tensorflow(seed: int) -> None:
    """Same seed and same op order on every run: the trained weights are reproducible."""
    tf = tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
