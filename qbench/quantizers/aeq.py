"""The ``aeq`` backend: Google's ai-edge-quantizer (AEQ) recipes on the float32 .tflite of any model.

AEQ quantizes a ready .tflite directly (no TensorFlow), so every model gets these modes: built-in, imported from
Keras / SavedModel / frozen graph (through its float32 conversion) and ready .tflite files such as MediaPipe's.
Its recipes come from ``ai_edge_quantizer.recipe``; ``static_wi8_ai8_float_io`` is ours: static int8 with the
model's inputs and outputs left float (AEQ's INPUT / OUTPUT virtual ops set to NO_QUANTIZE, so the graph begins
with QUANTIZE and ends with DEQUANTIZE, like the converter's int8-float-io).

Before quantizing, the float model is normalised: op codes that 2019-era files keep only in the deprecated
``deprecated_builtin_code`` field are copied to ``builtin_code`` (AEQ reads only the new field and would otherwise
quantize nothing), a model without a SignatureDef gets one (AEQ calibrates through signatures), and float16 weights
stored as constant + DEQUANTIZE (MediaPipe's face detector) become the float32 constants they decode to, exactly. A recipe that
does not apply (AEQ refuses the model, or LiteRT cannot load what it made) is ``NotApplicable``: its cases skip
with AEQ's or LiteRT's own reason, and that verdict is cached like an artifact.

Single layers are kept at higher precision (the +budget modes) by per-op overrides appended to the recipe: AEQ
matches an op by its scope (its output tensor names joined with ";" plus a trailing ";") and the last matching rule
wins, so ``^<name>;`` with ``no_quantize`` keeps that op float, and the 8-bit recipe's rule under it keeps it 8-bit.
A calibrated recipe is calibrated once per search and its statistics reused for every set of kept layers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from qbench import runtime
from qbench.cache import code_digest
from qbench.errors import NotApplicable, QbenchError
from qbench.modes import Mode
from qbench.quantizers.base import BACKENDS, REFERENCE_MODE, Backend
from qbench.tflite_file import TfliteModel, rewrite
from qbench.versions import installed

SIGNATURE = "serving_default"
INSTALL = "pip install -r requirements/build.txt -c requirements/constraints.txt (ai-edge-quantizer==0.10.0)"


def _aeq():
    try:
        from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe, recipe_manager
    except ImportError:
        raise QbenchError("the aeq-* modes need ai-edge-quantizer, which is not installed", INSTALL) from None
    return algorithm_manager, qtyping, quantizer, recipe, recipe_manager


def recipe_for(name: str) -> list[dict]:
    """The AEQ recipe (a list of op configs) that a mode names."""
    algorithm_manager, qtyping, _, recipe, recipe_manager = _aeq()
    if name == "static_wi8_ai8_float_io":
        manager = recipe_manager.RecipeManager()
        manager.load_quantization_recipe(recipe.static_wi8_ai8())
        for io_op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            manager.add_quantization_config(".*", io_op, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
        return manager.get_quantization_recipe()
    return getattr(recipe, name)()


#: the recipe a 4-bit recipe's layers are kept at when a search keeps them at "int8" (``Mode.keep``)
WIDER_RECIPES = {"weight_only_wi4_afp32": "weight_only_wi8_afp32", "dynamic_wi4_afp32": "dynamic_wi8_afp32",
                 "dynamic_wi4b32_afp32": "dynamic_wi8_afp32"}


def recipe_keeping(name: str, kept: Mapping[str, str]) -> list[dict]:
    """The recipe ``name`` with each op in ``kept`` (output tensor name -> "int8" | "float") overridden."""
    rules = list(recipe_for(name))
    for tensor, precision in kept.items():
        scope = f"^{re.escape(tensor)};"
        if precision == "float":
            rules.append({"regex": scope, "operation": "*", "algorithm_key": "no_quantize", "op_config": {}})
        elif precision == "int8" and name in WIDER_RECIPES:
            rules += [{**rule, "regex": scope} for rule in recipe_for(WIDER_RECIPES[name]) if rule["regex"] == ".*"]
        else:
            raise QbenchError(f"cannot keep {tensor} at {precision!r} in recipe {name}", "keep it at float")
    return rules


def normalize(data: bytes) -> bytes:
    """Op codes in ``builtin_code``, a SignatureDef present and float16 weights expanded, as AEQ needs (see the
    module docstring)."""
    from ai_edge_litert import schema_py_generated as schema

    def edit(m) -> None:
        for code in m.operatorCodes or []:
            code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)
        _expand_float16(m, schema)
        if not m.signatureDefs:
            graph = m.subgraphs[0]
            signature = schema.SignatureDefT()
            signature.signatureKey = SIGNATURE
            signature.subgraphIndex = 0
            signature.inputs, signature.outputs = ([_tensor_map(graph, i) for i in indices]
                                                   for indices in (graph.inputs, graph.outputs))
            m.signatureDefs = [signature]

    model = TfliteModel(data, "model")
    stale = not model.signatures or _deprecated_codes_only(data) or _float16_weights(model)
    return rewrite(data, edit) if stale else data


def _float16_weights(model: TfliteModel) -> bool:
    return any(model.tensors[op.inputs[0]].dtype == "float16" and model.tensors[op.inputs[0]].is_constant
               for op in model.ops if op.opcode == "DEQUANTIZE")


def _expand_float16(m, schema) -> None:
    """float16 weights kept as a constant + DEQUANTIZE (how float16-mode converters store them) become float32
    constants: the same values exactly (float16 -> float32 is lossless), in the form AEQ quantizes."""
    graph = m.subgraphs[0]
    dequantize = {i for i, c in enumerate(m.operatorCodes or [])
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE}
    kept = []
    for op in graph.operators or []:
        source = graph.tensors[op.inputs[0]] if op.opcodeIndex in dequantize else None
        data = m.buffers[source.buffer].data if source is not None and source.type == schema.TensorType.FLOAT16 \
            else None
        if data is None or len(data) == 0:
            kept.append(op)
            continue
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float16).astype(np.float32).view(np.uint8)
        m.buffers.append(buffer)
        graph.tensors[op.outputs[0]].buffer = len(m.buffers) - 1
        m.buffers[source.buffer].data = None  # the float16 copy is no longer read: do not ship it twice
    graph.operators = kept
    _drop_unused_tensors(graph)


def _drop_unused_tensors(graph) -> None:
    """Remove tensors no op and no graph input/output refers to, renumbering the references (the calibrator reads
    every tensor, and a float16 weight whose DEQUANTIZE is gone has no data left to read)."""
    used = sorted({i for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
                  | {int(i) for i in graph.inputs} | {int(i) for i in graph.outputs})
    new = {old: n for n, old in enumerate(used)}
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = [new[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [new[i] for i in op.outputs]
    graph.inputs = [new[int(i)] for i in graph.inputs]
    graph.outputs = [new[int(i)] for i in graph.outputs]


def _tensor_map(graph, index: int):
    from ai_edge_litert import schema_py_generated as schema

    entry = schema.TensorMapT()
    name = graph.tensors[index].name
    entry.name = (name.decode() if isinstance(name, bytes) else name).split(":")[0]
    entry.tensorIndex = index
    return entry


def _deprecated_codes_only(data: bytes) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    return any(code.builtinCode < code.deprecatedBuiltinCode for code in model.operatorCodes or [])


@BACKENDS.register
class AeqBackend(Backend):
    id = "aeq"
    description = "Google's ai-edge-quantizer recipes on the float32 .tflite (no TensorFlow)"

    def starts_from(self, mode) -> str:
        return REFERENCE_MODE

    def check(self, inputs, mode) -> None:
        model = inputs.float_model()
        kinds = {w.dtype for op in model.weighted_ops() if (w := model.weights(op)[0]) is not None}
        if kinds and not kinds & {"float32", "float16"}:  # float16 weights are expanded by ``normalize``
            raise NotApplicable(f"{inputs.model_id} is already quantized (weights {', '.join(sorted(kinds))}); "
                                f"{mode.id} starts from float32 weights", "import the float model")
        if mode.storage.block_size:
            self._check_blocks(inputs.model_id, model, mode)

    def _check_blocks(self, model_id: str, model: TfliteModel, mode: Mode) -> None:
        """AEQ's blockwise recipes quantize dense layers whose input depth is a multiple of the block size; with
        none of those it would return the float model unchanged, so the mode does not apply."""
        fits = [op for op in model.ops if op.opcode in mode.storage.ops
                and (w := model.weights(op)[0]) is not None and w.shape[-1] % mode.storage.block_size == 0]
        if not fits:
            depths = sorted({model.weights(op)[0].shape[-1] for op in model.ops if op.opcode in mode.storage.ops
                             and model.weights(op)[0] is not None})
            found = f"its dense layers take {', '.join(map(str, depths))} inputs" if depths else "it has no dense layer"
            raise NotApplicable(
                f"{mode.id} quantizes FULLY_CONNECTED weights in blocks of {mode.storage.block_size} inputs; "
                f"{model_id} has none that fits ({found})",
                "use aeq-dynamic-int4 (per-channel int4) for this model",
            )

    def size_reference(self, inputs, mode) -> bytes:
        return normalize(inputs.float32().path.read_bytes())  # float16 weights expanded

    def _calibration(self, inputs, mode) -> np.ndarray | None:
        return inputs.calibration() if mode.calibrated else None

    def key(self, inputs, mode) -> dict[str, Any]:
        calibration = self._calibration(inputs, mode)
        return {
            "backend": self.id,
            "float32": inputs.float32().sha256,
            "mode": mode.id,
            # The recipe by name: its op configs are a function of the name, ai-edge-quantizer's version and this
            # module's code (``recipe_for``), all in the key, so a warm session never imports ai-edge-quantizer
            # (its import alone, with scipy, adds ~75 MiB to every benchmark's peak RSS).
            "recipe": mode.recipe,
            "calibration": None if calibration is None else hashlib.sha256(calibration.tobytes()).hexdigest(),
            "versions": {p: installed(p) for p in ("ai-edge-quantizer", "ai-edge-litert", "numpy")},
            "code": code_digest(sys.modules[__name__]),  # recipe_for, and how the float model is prepared for AEQ
        }

    def build(self, inputs, mode, path: Path) -> dict[str, Any]:
        data = normalize(inputs.float32().path.read_bytes())
        calibration = self._calibration(inputs, mode)
        path.write_bytes(self._quantize(data, recipe_for(mode.recipe), calibration, inputs.model_id, mode))
        return {
            "model": inputs.model_id,
            "mode": mode.id,
            "recipe": mode.recipe,
            "float32_sha256": inputs.float32().sha256,
            "calibration_samples": 0 if calibration is None else len(calibration),
            "aeq_version": installed("ai-edge-quantizer"),
        }

    @contextmanager
    def keeper(self, inputs, mode):
        data = normalize(inputs.float32().path.read_bytes())
        calibration = self._calibration(inputs, mode)
        statistics: dict[str, Any] = {}  # one calibration for the whole search

        def build(kept: Mapping[str, str]) -> bytes:
            return self._quantize(data, recipe_keeping(mode.recipe, kept), calibration, inputs.model_id, mode,
                                  statistics)

        yield build

    def _quantize(self, data: bytes, recipe: list[dict], calibration, model_id: str, mode: Mode,
                  statistics: dict | None = None) -> bytes:
        """AEQ's model for ``recipe``; ``statistics`` keeps the calibration result across calls."""
        _, _, quantizer, _, _ = _aeq()
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # LiteRT warns about its debug option AEQ calibrates with
                q = quantizer.Quantizer(bytearray(data), recipe)
                result = None
                if q.need_calibration:
                    statistics = {} if statistics is None else statistics
                    if "result" not in statistics:
                        statistics["result"] = q.calibrate({signature_of(data): self._samples(data, calibration)},
                                                           num_threads=os.cpu_count() or 1)
                    result = statistics["result"]
                quantized = bytes(q.quantize(result, enable_progress_bar=False,
                                             enable_progress_report=False).quantized_model)
        except (ValueError, RuntimeError, KeyError, NotImplementedError) as exc:  # AEQ's "this recipe does not fit"
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            raise NotApplicable(f"ai-edge-quantizer cannot make {mode.id} ({mode.recipe}) of {model_id}: {reason}",
                                "choose another mode for this model") from None
        self._check_loads(quantized, model_id, mode)
        return quantized

    def _samples(self, data: bytes, calibration: np.ndarray) -> list[dict[str, np.ndarray]]:
        name, dtype = next(iter(runtime.signature_inputs(data, signature_of(data)).items()))
        return [{name: sample[None].astype(dtype)} for sample in calibration]

    def _check_loads(self, quantized: bytes, model_id: str, mode: Mode) -> None:
        """LiteRT must be able to prepare what AEQ made (with some calibrations it refuses AEQ 0.10's int16 ADD
        scales: "add.cc input1_shift <= 0 was not true")."""
        if reason := runtime.prepare_problem(quantized):
            raise NotApplicable(f"LiteRT cannot run the {mode.id} model ai-edge-quantizer made of {model_id}: "
                                f"{reason}", "choose another mode for this model")


def signature_of(data: bytes) -> str:
    """The signature AEQ calibrates through: the model's first (``normalize`` adds one when there is none)."""
    return TfliteModel(data, "model").signatures[0]


