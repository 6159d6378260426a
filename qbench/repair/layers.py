"""What a per-layer explanation holds: one row per op of the quantized model, in network order, and its ranking.

Two error figures per layer, both as SNR in dB against float32 (higher is better, ``qbench.metrics.SNR_CAP_DB`` =
identical):

- ``snr_db``: the layer's output against the float32 *model*'s tensor of the same name, i.e. the error accumulated
  up to here (what ai-edge-quantizer's ``Quantizer.validate`` reports per tensor). Later layers inherit every
  earlier layer's error, so ranking by it would blame the network's last layers for everything.
- ``added_snr_db``: the layer's output against its float32 *twin* -- the float32 layer run on the same (quantized
  model's) input (``qbench.repair.twins``; TensorFlow's QuantizationDebugger measures the same with NumericVerify
  ops), i.e. the error this layer adds. It is taken per output channel: the mean channel's error energy against
  the *median* channel's signal energy. Against the total energy, a channel whose values are orders of magnitude
  larger than the others' (an activation outlier) would hide the others' loss; against each channel's own signal,
  channels a ReLU keeps nearly silent would dominate.
  ``None``: no twin (a custom op). The ranking ("worst layers") is by this number, then by ``snr_db``.

Pure data (no runtime, no plotting), so the report can read a saved explanation on any machine.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qbench.metrics import SNR_CAP_DB

SCHEMA = 1
TOP_K = 5  # worst layers a benchmark result carries in extra_info

#: Name parts that say which layer a fused op came from (Keras / TF names: ".../block_1_expand_1/convolution").
_CORE = re.compile(r"/(convolution|depthwise|MatMul|BiasAdd|Conv2D|Tensordot)\b")
QUANTIZED_TYPES = frozenset({"int2", "int4", "uint4", "int8", "uint8", "int16"})  # not int32/int64: shapes, indices


def snr_from_energy(signal: float, noise: float) -> float:
    """10 log10(signal / noise) in dB, capped at +-SNR_CAP_DB like ``qbench.metrics.snr_db``."""
    if noise <= 0.0:
        return SNR_CAP_DB
    if signal <= 0.0:
        return 0.0
    return float(min(SNR_CAP_DB, max(-SNR_CAP_DB, 10.0 * math.log10(signal / noise))))


def channel_snr(signal, noise) -> float:
    """SNR in dB of the mean per-channel error energy against the median channel's signal energy."""
    signal, noise = np.asarray(signal, np.float64), np.asarray(noise, np.float64)
    typical = float(np.median(signal)) if signal.size else 0.0
    if typical <= 0.0:  # most channels silent (ReLU): the mean channel stands in
        typical = float(signal.mean()) if signal.size else 0.0
    return snr_from_energy(typical, float(noise.mean()) if noise.size else 0.0)


def snr_text(value: float | None) -> str:
    """An SNR as the tables show it: "exact" at the cap, "n/a" where there was nothing to compare with."""
    if value is None or math.isnan(value):
        return "n/a"
    return "exact" if value >= SNR_CAP_DB else f"{value:.1f}"


def short_label(name: str, prefix: str = "") -> str:
    """A fused op's output name (``a/relu/Relu6;a/bn/add_1;a/conv/convolution;...``) shortened to the layer it came
    from (``conv``), without the model scope ``prefix`` every layer shares."""
    parts = [p for p in name.split(";") if p]
    core = next((p for p in parts if _CORE.search(p)), parts[0] if parts else name)
    core = _CORE.split(core)[0] if _CORE.search(core) else core
    if prefix and core.startswith(prefix):
        core = core[len(prefix):]
    return core or name


def common_prefix(names: list[str]) -> str:
    """The '/'-separated scope every name starts with (the model's name), to leave out of labels."""
    heads = [n.split(";")[0].split("/")[:-1] for n in names if n]
    if not heads:
        return ""
    shared = []
    for parts in zip(*heads):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    return "/".join(shared) + "/" if shared else ""


@dataclass(frozen=True)
class Layer:
    """One op of the quantized model whose output the float32 model also has."""

    position: int  # among the compared layers, in network order (0 = first)
    op_index: int  # index in the quantized model's op list
    op: str  # CONV_2D, ADD, ...
    tensor: str  # the float32 model's name of its output: the layer's name in every mode, and what a search keeps
    label: str  # short name for tables and figure axes
    weights: str | None  # weight dtype (int4, int8, float32...) for weighted ops, else None
    activations: str  # output dtype
    snr_db: float  # accumulated error of the output (see module docstring)
    added_snr_db: float | None  # error this layer adds (None: no float32 twin)
    output: str = ""  # the quantized model's name of its output, where a mode renamed it ("x:0" -> "x:01")

    @property
    def quantized(self) -> bool:
        """Whether the mode quantized this op (integer weights or integer output)."""
        return bool({self.weights, self.activations} & QUANTIZED_TYPES)

    @property
    def precision(self) -> str:
        return f"w {self.weights} / a {self.activations}" if self.weights else f"a {self.activations}"


@dataclass(frozen=True)
class Explanation:
    """The per-layer table of one model x mode against float32 on a fixed set of evaluation inputs."""

    model: str
    mode: str
    device: str
    samples: int  # first N evaluation samples compared
    float_sha256: str
    quantized_sha256: str
    layers: tuple[Layer, ...]
    output_snr_db: float | None  # the model's (worst) output, accumulated (None: no output matched)
    unmatched: tuple[str, ...] = field(default=())  # ops without a float32 counterpart (QUANTIZE, DEQUANTIZE...)

    def ranked(self) -> list[Layer]:
        """Worst first: most error added, then the lowest accumulated SNR, then network order."""
        unmeasured = float("inf")  # no float32 twin (a custom op): never ranked above a measured layer
        return sorted(self.layers, key=lambda l: (unmeasured if l.added_snr_db is None else l.added_snr_db, l.snr_db,
                                                  l.position))

    def worst(self, k: int = TOP_K) -> list[Layer]:
        return self.ranked()[:k]

    def summary(self) -> dict[str, Any]:
        quantized = [l for l in self.layers if l.quantized]
        worst = self.ranked()[0] if self.layers else None
        return {
            "layers": len(self.layers),
            "quantized_layers": len(quantized),
            "output_snr_db": self.output_snr_db,
            "min_added_snr_db": worst.added_snr_db if worst else None,
            "worst_layer": worst.tensor if worst else None,
        }

    def result_info(self, k: int = TOP_K) -> dict[str, Any]:
        """What a benchmark result carries (``extra_info["explain"]``): the summary and the top-k worst layers."""
        return {
            "device": self.device, "samples": self.samples, **self.summary(),
            "worst": [{"label": l.label, "op": l.op, "tensor": l.tensor, "precision": l.precision,
                       "snr_db": round(l.snr_db, 2),
                       "added_snr_db": None if l.added_snr_db is None else round(l.added_snr_db, 2)}
                      for l in self.worst(k)],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **{k: v for k, v in asdict(self).items() if k != "layers"},
                "layers": [asdict(l) for l in self.layers], "unmatched": list(self.unmatched)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        fields = {k: data[k] for k in ("model", "mode", "device", "samples", "float_sha256", "quantized_sha256",
                                       "output_snr_db")}
        return cls(**fields, layers=tuple(Layer(**l) for l in data["layers"]),
                   unmatched=tuple(data.get("unmatched", ())))
