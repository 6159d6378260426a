"""The fast tier's promise, enforced: no test here imports TensorFlow or touches a built-in model.

A test that needs either belongs in tests/integration/ (tests/README.md). The ``qbench`` fixture (the session's
workspace over the built-in models) is refused here; TensorFlow imported during a test fails it.
"""

import sys

import pytest


@pytest.fixture
def qbench():
    pytest.fail("the fast tier does not use the built-in models (the `qbench` fixture): build a synthetic model "
                "(tests/tiny_tflite.py, tests/mlp.py) or move the test to tests/integration/")


@pytest.fixture(autouse=True)
def _no_tensorflow(request):
    before = "tensorflow" in sys.modules
    yield
    if not before and "tensorflow" in sys.modules:
        pytest.fail(f"{request.node.nodeid} imported TensorFlow: the fast tier runs without it; "
                    "move the test to tests/integration/")
