"""Every artifact is what its mode says it is (``qbench.contracts``): quantized weights of the right dtype and
granularity on the ops the mode covers, activations and inputs/outputs of the right dtype.

Quality, size and latency cannot tell a float model from a quantized one that kept its quality; this can, and its
message names the offending ops. A ready .tflite in float32 runs as it was given: there is no mode to check it
against. An .onnx file (the ort-* modes) is read by its own reader (``qbench.onnx_file``): its QDQ / QLinear /
Integer ops and their int8 weights.
"""

import pytest

from qbench import contracts, modes
from qbench.modes import REFERENCE_MODE


def test_contract(qbench, qbench_model, qbench_mode):
    artifact = qbench.artifacts.tflite(qbench_model, qbench_mode)
    if qbench_mode == REFERENCE_MODE and qbench.artifacts.spec(qbench_model).source_format == "tflite":
        pytest.skip(f"{qbench_model} is a ready .tflite: float32 runs it as given, no mode made it")
    problems = contracts.check_artifact(artifact.path, modes.get(qbench_mode),
                                        exempt=artifact.manifest.get("kept_outputs", ()))
    assert not problems, f"{qbench_model} {qbench_mode} is not what the mode says:\n" + "\n".join(problems)
