"""Each CompiledModel CPU device computes what its Interpreter twin computes, bit for bit, one sample per call.

``devices.py`` records a twin per CompiledModel CPU device; the CompiledModel runner reports its twin's
kernels and shares evaluations by them, so this is the measurement that licenses it, repeated on every
run: raw outputs over the first test images, every mode, every pair, both runtimes at batch 1 (the only
batch the CompiledModel runs; the Interpreter's built-in float kernels round differently in batches, so
its batched evaluations are not shared with CompiledModel devices).

Tolerances: integer modes (int8, int8-float-io, int16x8) must be bit-identical, as integer kernels are
exact given the same kernels. Float modes (float32, dynamic, float16) get a tolerance of 0 too, stated
here on purpose: CompiledModel's CPU accelerator applies the same XNNPACK delegate and resolves the same
built-in kernels as the Interpreter, so the same arithmetic runs in the same order and measured
differences are exactly 0 on both built-in models; a looser tolerance would let a shared evaluation
hide a real difference. If a LiteRT upgrade changes that (e.g. CpuKernelMode.REFERENCE starting to run
the reference kernels, which ai-edge-litert 2.3.0 does not), this fails and the twin must be re-measured.
"""

import numpy as np
import pytest

from qbench.errors import NotApplicable

from qbench import modes, runtime

MODEL = "mnist_cnn"
#: both built-in models: MNIST over every mode and 300 digits; the scenes model over the default modes (those the
#: default run builds anyway) and 4 frames (one 256x512 frame is ~0.1 s per runtime, and 130k outputs per frame)
CASES = [("mnist_cnn", m, 300) for m, mode in modes.MODES.items() if mode.base is None and mode.format == "tflite"] + \
    [("deeplab_scenes", m, 4) for m, mode in modes.MODES.items() if mode.default]
FLOAT_RTOL = 0.0  # see the module docstring: same kernels, same order, measured identical
PAIRS = [(d.id, d.twin) for d in runtime.DEVICES.values() if d.runtime == "compiled_model" and d.twin]


def _raw_outputs(runner: runtime.Runner, x: np.ndarray) -> list[np.ndarray]:
    parts = runner.map_batches(x, lambda raws: [r.copy() for r in raws], batch_size=1)
    return [np.concatenate([p[i] for p in parts]) for i in range(len(runner.outputs))]


def test_every_compiled_model_cpu_device_has_a_twin():
    cpu = [d.id for d in runtime.DEVICES.values() if d.runtime == "compiled_model" and d.accelerator == "cpu"]
    assert sorted(cpu) == sorted(cm for cm, _ in PAIRS) and len(cpu) >= 4


@pytest.mark.parametrize("model, mode, samples", CASES)  # +budget modes: the same ops as their lossy mode's
@pytest.mark.parametrize("cm_device, twin", PAIRS)
def test_compiled_model_matches_its_interpreter_twin(qbench, model, mode, samples, cm_device, twin):
    x = qbench.artifacts.eval_set(model).x[:samples]
    try:
        qbench.artifacts.tflite(model, mode)
    except NotApplicable as exc:  # ai-edge-quantizer's blockwise int4: MNIST has no dense layer it fits
        pytest.skip(exc.problem)
    interpreter = qbench.evaluator.runner(model, mode, twin)
    if {t.dtype.name for t in (*interpreter.inputs, *interpreter.outputs)} & {"int16", "int64"}:
        with pytest.raises(NotApplicable, match="TensorBuffers take no int16"):  # AEQ's int16 I/O
            qbench.evaluator.runner(model, mode, cm_device)
        return
    cm = qbench.evaluator.runner(model, mode, cm_device)
    assert cm.inputs == interpreter.inputs and cm.outputs == interpreter.outputs
    got, want = _raw_outputs(cm, x), _raw_outputs(interpreter, x)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape == (samples, *cm.outputs[0].shape)
        if modes.get(mode).calibrated:  # integer modes
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=FLOAT_RTOL, atol=0)
    assert cm.computation[1:] == interpreter.computation[1:]  # same kernels, XNNPACK partitions, threads
    assert cm.backend["kernels"] == interpreter.backend["kernels"] and cm.backend["computes_like"] == twin


@pytest.mark.parametrize("mode", ["float32", "int16x8"])
def test_compiled_model_devices_share_evaluations_among_themselves(qbench, mode):
    """cm-reference runs the built-in kernels (LiteRT 2.3.0), and XNNPACK takes no int16x8 op: both compute
    what cm-builtin computes. Interpreter devices evaluate in batches and keep their own evaluations."""
    builtin = qbench.evaluator.result(MODEL, mode, "cm-builtin")
    assert qbench.evaluator.result(MODEL, mode, "cm-reference") is builtin
    assert (qbench.evaluator.result(MODEL, mode, "cm-xnnpack") is builtin) == (mode == "int16x8")
    assert qbench.evaluator.result(MODEL, mode, "builtin") is not builtin
    assert qbench.evaluator.result(MODEL, mode, "builtin")["accuracy"] == pytest.approx(builtin["accuracy"], abs=2e-4)
