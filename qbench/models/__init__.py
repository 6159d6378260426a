"""Built-in models, one module each, registered in ``MODELS``; imported models (``imported/``) join a session's
catalog. A new built-in model is one module with a ``ModelSpec`` registered in ``MODELS``."""

from qbench.models import deeplab_scenes, mediapipe, mnist_cnn  # noqa: F401  (they register themselves)
from qbench.models.base import MODELS, ModelContext, ModelIO, ModelSpec

__all__ = ["MODELS", "ModelContext", "ModelIO", "ModelSpec"]
