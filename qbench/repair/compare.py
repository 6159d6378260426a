"""Compare every intermediate tensor of a quantized .tflite with the float32 model's tensor of the same name.

LiteRT's Interpreter keeps every intermediate tensor readable after ``invoke()`` when built with
``experimental_preserve_all_tensors`` (what ai-edge-quantizer's ``Quantizer.validate`` and TensorFlow's
QuantizationDebugger use too). Both models run the same inputs one sample at a time; integer tensors are
dequantized with their own parameters; per tensor the signal and error energies are summed over the samples.
Tensors are matched by name: ai-edge-quantizer keeps the float model's names and TFLiteConverter gives the same
fused ops the same names in every mode (checked on both built-in models: every float32 op has its counterpart),
so a tensor without a counterpart is an op the mode inserted (QUANTIZE, DEQUANTIZE of a weight).

Only kernels without a delegate can be read this way: XNNPACK runs a delegated partition as one fused node, so
its intermediate tensors are never written. This is an analysis tool on the run stage (LiteRT and numpy only),
not a benchmark device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench import runtime
from qbench.errors import QbenchError
from qbench.repair.layers import Explanation, Layer, channel_snr, common_prefix, short_label, snr_from_energy
from qbench.repair.twins import counterparts, instrument
from qbench.runtime.tapped import TappedInterpreter
from qbench.tflite_file import TfliteModel

#: devices whose intermediate tensors can be read (Interpreter devices without a delegate)
READABLE = ("builtin", "reference")
DEFAULT_DEVICE = "builtin"


def resolver_for(device_id: str) -> str:
    """The kernels a per-layer comparison runs on ``device_id`` (refusing a delegate, which hides its tensors)."""
    device = runtime.get(device_id)  # an unknown id is the usual error listing the devices
    if device_id not in READABLE:
        raise QbenchError(
            f"per-layer errors cannot be read on {device_id!r}: a delegate (XNNPACK) runs its partitions as one "
            "fused node and never writes their intermediate tensors",
            f"explain on {' or '.join(READABLE)} (the same ops without a delegate)",
        )
    return device.kernels


def compare(float_model: Path | bytes, quantized_path: Path, samples: np.ndarray, device: str = DEFAULT_DEVICE,
            *, model: str = "", mode: str = "", float_sha256: str = "", quantized_sha256: str = "") -> Explanation:
    """Every op of the quantized model against float32 on ``samples`` (already fitted to the model's input):
    its output against the float32 model's tensor of the same name (accumulated error) and against its float32
    twin on the same input (the error it adds; ``qbench.repair.twins``). ``float_model``: the float model the mode
    started from (its file or bytes; for ai-edge-quantizer modes the normalized one, with float16 weights expanded)."""
    resolver = resolver_for(device)
    float_data = float_model if isinstance(float_model, bytes) else Path(float_model).read_bytes()
    quantized_data = Path(quantized_path).read_bytes()
    original = TfliteModel(quantized_data, str(quantized_path))
    ref = TappedInterpreter(float_data, f"the float32 model of {Path(quantized_path).name}", resolver)
    pairs = counterparts(original, ref.file)  # quantized tensor index -> float tensor index
    instrumented = instrument(quantized_data, float_data, pairs)
    quant = TappedInterpreter(instrumented.data, f"{quantized_path} with float32 twins", resolver)
    ops = [op for op in original.ops if not all(i < 0 or original.tensors[i].is_constant for i in op.inputs)]
    if not pairs:
        raise QbenchError(f"{quantized_path.name} shares no tensor name with its float32 model",
                          "explain works on modes built from the same model (names kept by the converter and AEQ)")
    energy = {i: [0.0, 0.0] for i in pairs}  # against the float32 model: signal, error energy
    per_channel = {i: [0.0, 0.0] for i in instrumented.twins}  # against the twin: per output channel
    for sample in samples:
        ref.run(sample)
        quant.run(sample)
        for index, sums in energy.items():
            expected = ref.value(pairs[index])
            error = quant.value(index) - expected
            sums[0] += float(np.einsum("i,i->", expected, expected, dtype=np.float64))  # a float32 dot
            sums[1] += float(np.einsum("i,i->", error, error, dtype=np.float64))  # overflows on a broken layer
        for index, sums in per_channel.items():
            channels = original.tensors[index].shape[-1] if original.tensors[index].shape else 1
            expected = quant.value(instrumented.twins[index]).reshape(-1, channels)
            error = quant.value(index).reshape(-1, channels) - expected
            sums[0] += np.einsum("ij,ij->j", expected, expected, dtype=np.float64)
            sums[1] += np.einsum("ij,ij->j", error, error, dtype=np.float64)
    layers, unmatched = [], []
    names = {q: ref.file.tensors[f].name for q, f in pairs.items()}  # the float32 model's names
    prefix = common_prefix([n for n in names.values() if "/" in n])
    for op in ops:
        out = op.outputs[0] if op.outputs else -1
        if out not in pairs:
            unmatched.append(f"{op.opcode} {original.tensors[out].name if out >= 0 else ''}".strip())
            continue
        weight, _ = original.weights(op)
        tensor = original.tensors[out]
        added = channel_snr(*per_channel[out]) if out in per_channel else None
        layers.append(Layer(len(layers), op.index, op.opcode, names[out], short_label(names[out], prefix),
                            weight.dtype if weight is not None else None, tensor.dtype,
                            snr_from_energy(*energy[out]), added, "" if tensor.name == names[out] else tensor.name))
    outputs = [snr_from_energy(*energy[t.index]) for t in original.outputs if t.index in pairs]
    return Explanation(model, mode, device, len(samples), float_sha256, quantized_sha256, tuple(layers),
                       min(outputs) if outputs else None, tuple(unmatched))


