"""The quantization modes: backend x recipe, what each stores, and what its artifact must contain.

A mode is declared here and built by its backend (``qbench/quantizers/``): ``converter`` configures TensorFlow's
``TFLiteConverter`` from a Keras / SavedModel / frozen-graph source (the thesis's six modes); ``aeq`` runs Google's
ai-edge-quantizer recipes on the float32 ``.tflite`` of any model, TensorFlow not needed; ``ort`` converts that
float32 ``.tflite`` to ONNX and runs ONNX Runtime's quantizer (``.onnx`` files, ``Mode.format``). Mode ids name the
backend (``aeq-...``, ``ort-...``). Importable without TensorFlow or ai-edge-quantizer: this is data.

Each mode also says
- how it stores weights (``Storage``), from which ``qbench.size`` predicts the artifact's size out of the float32
  model's own tensors (thesis §3.3: int8 weights are 1/4 of float32, float16 1/2, int4 1/8);
- what its artifact must contain (``Contract``): weight dtypes per op kind, activation and I/O dtypes. A conversion
  that quantized nothing, or fell back to a weaker scheme, is caught by ``benchmarks/test_contract.py`` by name;
- its quality family (``FAMILIES``), which sets the budget and floor each task holds it to;
- which higher precisions a layer may be kept at (``keep``): such a mode has a ``<id>+budget`` twin (backend
  ``budget``, ``qbench/quantizers/budget.py``) that keeps the fewest worst layers at those precisions until the model
  meets its quality budget. ``+budget`` modes are selectable like any other but not in the default selection: their
  first build runs a search on the evaluation set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qbench.registry import Registry

#: What every mode's quality, size and fidelity is judged against (defined here once).
REFERENCE_MODE = "float32"

#: Quality classes of modes. A task sets a quality *budget* (what the thesis's question asks: e.g. mIoU within
#: 96 % of float32) and a *floor* (below which the conversion is broken, not just lossy) per family.
FAMILIES = {
    "float": "float weights and activations (float32, float16)",
    "8bit": "8-bit weights, int8 or float activations",
    "16bit": "int16 activations, int8 weights",
    "4bit": "4-bit weights",
}

CONV_FC = frozenset({"CONV_2D", "FULLY_CONNECTED"})
WEIGHTED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D"})


@dataclass(frozen=True)
class Storage:
    """How a mode stores the weights of the ops it quantizes (the rest stay float32)."""

    weight_bits: int = 32  # per weight element (32: float32 kept; 4: two per byte)
    bias_bytes: int = 4  # float32 / int32 biases; int64 in 16x8; float16 in float16 mode
    ops: frozenset[str] = WEIGHTED  # op kinds whose weights are quantized
    #: Smaller weight tensors stay float32 (TFLite's dynamic-range quantizer skips < 1024 elements).
    min_weight_elements: int = 0
    per_channel: bool = True  # integer weights carry a scale and a zero point per output channel
    integer_bias: bool = False  # biases become integers with their own per-channel scales
    block_size: int = 0  # > 0: one scale per block of this many weights along the input dimension


@dataclass(frozen=True)
class Contract:
    """What a mode's artifact must contain; ``qbench.contracts.check`` names every op that breaks it."""

    weights: str = "float32"  # dtype of every quantized weight (after any DEQUANTIZE in front of it)
    ops: frozenset[str] = WEIGHTED  # op kinds the weight rule covers
    min_weight_elements: int = 0  # smaller weight tensors are exempt (left float32 by the mode)
    granularity: str | None = None  # "per-channel" | "blockwise" required of integer weights
    #: op kinds whose integer weights may be per-tensor all the same (tfmot's 8-bit scheme: Dense kernels)
    per_tensor_ops: frozenset[str] = frozenset()
    activations: str = "float32"  # output dtype of the ops the weight rule covers
    io: tuple[str, str] = ("float32", "float32")  # (input, output) dtypes


@dataclass(frozen=True)
class Mode:
    id: str
    description: str
    backend: str  # a qbench.quantizers.BACKENDS id: converter | aeq | budget
    recipe: str  # the backend's recipe name (converter: qbench.quantizers.converter.RECIPES; aeq: its recipes)
    calibrated: bool  # needs a representative dataset
    family: str
    storage: Storage = field(default_factory=Storage)
    contract: Contract = field(default_factory=Contract)
    #: precisions a budget search may keep one of its layers at, narrowest first ("int8": the same scheme with 8-bit
    #: weights; "float": not quantized); () = the mode has no +budget variant
    keep: tuple[str, ...] = ()
    base: str | None = None  # a +budget mode: the lossy mode its search starts from
    #: the next wider mode a user would pick instead: a +budget search stops once its model is as large as this
    #: mode's would be (``qbench.repair.search``), and names it
    wider: str | None = None
    #: the post-training mode this one is weighed against (a quantization-aware mode's PTQ twin): the report puts
    #: them side by side
    twin: str | None = None
    default: bool = False  # in the default selection (the thesis's four modes; --qbench-modes all for every one)
    #: the file the backend writes and a runtime must be able to load (``Runner.formats``): "tflite" | "onnx"
    format: str = "tflite"
    #: the mode this one is judged and timed against on the same device: its own framework's float32 (an ONNX Runtime
    #: mode cannot be compared with a .tflite on an ONNX Runtime device); the reference is its own reference
    reference: str = REFERENCE_MODE

    # what qbench.size reads (kept as properties so the size rules stay in one place)
    @property
    def weight_bytes(self) -> float:
        return self.storage.weight_bits / 8

    @property
    def min_weight_elements(self) -> int:
        return self.storage.min_weight_elements


INT8_CONV = Storage(8, integer_bias=True)
WIDER = ("int8", "float")  # a 4-bit layer goes to 8 bits first, then to float
FLOAT = ("float",)
#: Every mode by id, in report order. The built-in backends' (converter, aeq, ort) are declared below; a new backend
#: registers its own modes beside its code (``MODES.register(Mode(...))``).
MODES: Registry[Mode] = Registry("mode")
ORT_FLOAT = "ort-float32"
_ONNX = dict(backend="ort", format="onnx", reference=ORT_FLOAT)
for _mode in (
    # TFLiteConverter (the thesis's modes)
    Mode("float32", "no quantization (baseline)", "converter", "float32", False, "float",
         Storage(), Contract(), default=True),
    Mode("dynamic", "dynamic range: int8 weights, float activations", "converter", "dynamic", False, "8bit",
         Storage(8, min_weight_elements=1024), Contract("int8", min_weight_elements=1024,
                                                       granularity="per-channel"), default=True),
    Mode("float16", "float16 weights", "converter", "float16", False, "float",
         Storage(16, bias_bytes=2, per_channel=False), Contract("float16"), default=True),
    Mode("int8", "full integer int8, uint8 input/output (thesis)", "converter", "int8", True, "8bit",
         INT8_CONV, Contract("int8", granularity="per-channel", activations="int8", io=("uint8", "uint8")),
         keep=FLOAT, wider="float16", default=True),
    Mode("int8-float-io", "full integer int8, float input/output", "converter", "int8-float-io", True, "8bit",
         INT8_CONV, Contract("int8", granularity="per-channel", activations="int8"), keep=FLOAT, wider="float16"),
    Mode("int16x8", "int16 activations, int8 weights", "converter", "int16x8", True, "16bit",
         Storage(8, bias_bytes=8, integer_bias=True),
         Contract("int8", granularity="per-channel", activations="int16")),
    # ai-edge-quantizer on the float32 .tflite
    Mode("aeq-dynamic-int8", "AEQ dynamic range: int8 per-channel weights, float activations (dynamic_wi8_afp32)",
         "aeq", "dynamic_wi8_afp32", False, "8bit", Storage(8), Contract("int8", granularity="per-channel"),
         keep=FLOAT, wider="float32"),
    Mode("aeq-weight-int8", "AEQ weight-only int8, dequantized to float compute (weight_only_wi8_afp32)",
         "aeq", "weight_only_wi8_afp32", False, "8bit", Storage(8),
         Contract("int8", granularity="per-channel"), keep=FLOAT, wider="float32"),
    Mode("aeq-weight-int4", "AEQ weight-only int4 on conv/dense layers (weight_only_wi4_afp32)",
         "aeq", "weight_only_wi4_afp32", False, "4bit", Storage(4, ops=CONV_FC),
         Contract("int4", ops=CONV_FC, granularity="per-channel"), keep=WIDER, wider="aeq-weight-int8"),
    Mode("aeq-dynamic-int4", "AEQ dynamic range int4 weights on conv/dense layers (dynamic_wi4_afp32)",
         "aeq", "dynamic_wi4_afp32", False, "4bit", Storage(4, ops=CONV_FC),
         Contract("int4", ops=CONV_FC, granularity="per-channel"), keep=WIDER, wider="aeq-dynamic-int8"),
    Mode("aeq-int4-block32", "AEQ dynamic int4 dense weights, one scale per 32 (dynamic_wi4b32_afp32)",
         "aeq", "dynamic_wi4b32_afp32", False, "4bit",
         Storage(4, ops=frozenset({"FULLY_CONNECTED"}), per_channel=False, block_size=32),
         Contract("int4", ops=frozenset({"FULLY_CONNECTED"}), granularity="blockwise"), keep=WIDER,
         wider="aeq-dynamic-int8"),
    Mode("aeq-int8", "AEQ static int8 activations and weights, int8 input/output (static_wi8_ai8)",
         "aeq", "static_wi8_ai8", True, "8bit", INT8_CONV,
         Contract("int8", granularity="per-channel", activations="int8", io=("int8", "int8")), keep=FLOAT,
         wider="float32"),
    Mode("aeq-int8-float-io", "AEQ static int8, float input/output (static_wi8_ai8, I/O left float)",
         "aeq", "static_wi8_ai8_float_io", True, "8bit", INT8_CONV,
         Contract("int8", granularity="per-channel", activations="int8"), keep=FLOAT, wider="float32"),
    Mode("aeq-int16x8", "AEQ int16 activations, int8 weights, int16 input/output (static_wi8_ai16)",
         "aeq", "static_wi8_ai16", True, "16bit", Storage(8, bias_bytes=8, integer_bias=True),
         Contract("int8", granularity="per-channel", activations="int16", io=("int16", "int16")), keep=FLOAT,
         wider="float32"),
    # ONNX Runtime: the float32 .tflite converted by tf2onnx, then ORT's quantizer (qbench/quantizers/ort.py);
    # .onnx files, run by the onnxruntime devices, judged and timed against ort-float32
    Mode(ORT_FLOAT, "ONNX Runtime float32: the float32 .tflite converted by tf2onnx (opset 17)", recipe="float32",
         calibrated=False, family="float", storage=Storage(), contract=Contract(), **_ONNX),
    Mode("ort-dynamic-int8", "ONNX Runtime dynamic: int8 weights (per-channel dense, per-tensor conv), uint8 "
         "activations quantized at run time (quantize_dynamic)", recipe="dynamic", calibrated=False, family="8bit",
         storage=Storage(8), contract=Contract("int8", activations="float32"), **_ONNX),
    Mode("ort-int8", "ONNX Runtime static QDQ: int8 activations, int8 per-channel weights, float input/output "
         "(quantize_static, MinMax)", recipe="qdq-s8s8", calibrated=True, family="8bit",
         storage=Storage(8, integer_bias=True), contract=Contract("int8", granularity="per-channel",
                                                                  activations="int8"), **_ONNX),
    Mode("ort-int8-qoperator", "ONNX Runtime static QOperator: QLinear ops, uint8 activations, int8 per-channel "
         "weights (quantize_static, MinMax)", recipe="qoperator-u8s8", calibrated=True, family="8bit",
         # the int32 bias is an input of QLinearConv, its scale implied (input scale x weight scale): no table
         storage=Storage(8), contract=Contract("int8", granularity="per-channel",
                                                                  activations="uint8"), **_ONNX),
):
    MODES.register(_mode)


BUDGET_SUFFIX = "+budget"
#: how a layer a budget search kept stores its weights (``qbench.size`` predicts a +budget artifact with these)
KEPT_STORAGE = {"int8": Storage(8), "float": Storage()}


def budgeted(mode: Mode) -> Mode:
    """``<mode>+budget``: the same storage rules, contract and family (the kept layers are exempt from the contract
    and sized by ``KEPT_STORAGE``, both read from the artifact's ``kept_layers``), built by a search."""
    return Mode(mode.id + BUDGET_SUFFIX, f"{mode.id}, worst layers kept at {' then '.join(mode.keep)} until the model "
                f"meets its quality budget", "budget", mode.id, mode.calibrated, mode.family, mode.storage,
                mode.contract, base=mode.id, default=False, format=mode.format, reference=mode.reference)


for _mode in [m for m in MODES.values() if m.keep]:
    MODES.register(budgeted(_mode))


def get(mode_id: str) -> Mode:
    return MODES.get(mode_id)


def reference_of(mode_id: str) -> str:
    """The mode ``mode_id`` is judged against on the same device (``Mode.reference``; float32 for unknown ids, as
    the report reads results of modes this checkout may not have)."""
    return MODES.get(mode_id).reference if mode_id in MODES else REFERENCE_MODE


def is_reference(mode_id: str) -> bool:
    """A framework's float32: what the other modes of its framework are judged against."""
    return reference_of(mode_id) == mode_id
