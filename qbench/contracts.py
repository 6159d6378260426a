"""Is an artifact what its mode says? Checks a .tflite against its mode's ``Contract``, naming every op that breaks it.

The quality gates compare quality, and a float model keeps its quality: a mode that silently quantized nothing
(ai-edge-quantizer does exactly that on 2019-era op codes it cannot read) or fell back to a weaker scheme (int8 to
dynamic range, 16x8 to int8 activations) would pass them all. The contract reads what the file contains
(``qbench.tflite_file``): the dtype and granularity of each covered op's weights, the dtype of its output, and the
model's input and output dtypes. Weights smaller than the mode's threshold are exempt, as the mode leaves them
float32; ops whose output is named in ``exempt`` (layers a mixed-precision search kept at higher precision: a
+budget artifact's ``kept_outputs``) too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qbench.modes import Contract, Mode
from qbench.tflite_file import TfliteModel

SHOWN = 6  # offending ops named per rule


def _name(model: TfliteModel, op) -> str:
    return f"{op.opcode} #{op.index} ({model.tensors[op.outputs[0]].name})"


def _granular(weight, output, granularity: str) -> bool:
    """Whether ``weight`` is quantized as ``granularity`` says. An op with one output channel (MediaPipe's hand
    model ends in two FULLY_CONNECTED layers of one unit each) has one scale either way: per-tensor is per-channel."""
    kind = weight.quantization.kind if weight.quantization is not None else None
    if kind == granularity:
        return True
    return granularity == "per-channel" and kind == "per-tensor" and bool(output.shape) and output.shape[-1] == 1


def check_artifact(path: Path, mode: Mode, exempt: Iterable[str] = ()) -> list[str]:
    """Every way the mode's file at ``path`` breaks its contract, read by the reader of its format."""
    return CHECKS[mode.format](path, mode.contract, exempt)


def check_onnx(path: Path, contract: Contract, exempt: Iterable[str] = ()) -> list[str]:
    """The contract of an .onnx file (``qbench.onnx_file`` finds its weighted ops in each quantized form)."""
    from qbench.onnx_file import OnnxGraph

    graph = OnnxGraph.read(path)
    exempt = set(exempt)
    wrong_weights, wrong_granularity, wrong_activations = [], [], []
    covered = 0
    for node in graph.weighted():
        if node.opcode not in contract.ops or node.elements < contract.min_weight_elements or node.name in exempt:
            continue
        covered += 1
        label = f"{node.op_type} ({node.name})"
        if node.weight_dtype != contract.weights:
            wrong_weights.append(f"{label}: {node.weight_dtype}")
        elif contract.granularity and node.granularity != contract.granularity and not (
                contract.granularity == "per-channel" and node.granularity == "per-tensor" and node.channels == 1):
            wrong_granularity.append(f"{label}: {node.granularity or 'no quantization'}")
        if node.activations != contract.activations:
            wrong_activations.append(f"{label}: {node.activations}")
    return _problems(contract, covered, wrong_weights, wrong_granularity, wrong_activations, graph.io)


def check(model: TfliteModel, contract: Contract, exempt: Iterable[str] = ()) -> list[str]:
    """Every way ``model`` breaks ``contract``: one line per rule, naming the offending ops."""
    exempt = set(exempt)
    wrong_weights, wrong_granularity, wrong_activations = [], [], []
    covered = 0
    for op in model.weighted_ops():
        weight, _ = model.weights(op)
        output = model.tensors[op.outputs[0]]
        if op.opcode not in contract.ops or weight.elements < contract.min_weight_elements or output.name in exempt:
            continue
        covered += 1
        if weight.dtype != contract.weights:
            wrong_weights.append(f"{_name(model, op)}: {weight.dtype}")
        elif contract.granularity and not _granular(weight, output, contract.granularity) and not (
                op.opcode in contract.per_tensor_ops and weight.quantization is not None
                and weight.quantization.kind == "per-tensor"):
            wrong_granularity.append(f"{_name(model, op)}: "
                                     f"{weight.quantization.kind if weight.quantization else 'no quantization'}")
        if output.dtype != contract.activations:
            wrong_activations.append(f"{_name(model, op)}: {output.dtype}")
    io = (model.inputs[0].dtype if model.inputs else "none", model.outputs[0].dtype if model.outputs else "none")
    return _problems(contract, covered, wrong_weights, wrong_granularity, wrong_activations, io)


def _problems(contract: Contract, covered: int, wrong_weights: list[str], wrong_granularity: list[str],
              wrong_activations: list[str], io: tuple[str, str]) -> list[str]:
    problems: list[str] = []
    for what, found in ((f"weights must be {contract.weights}", wrong_weights),
                        (f"weights must be {contract.granularity}", wrong_granularity),
                        (f"activations must be {contract.activations}", wrong_activations)):
        if found:
            more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
            problems.append(f"{len(found)} of {covered} covered ops break '{what}': {'; '.join(found[:SHOWN])}{more}")
    if covered == 0 and contract.weights != "float32":
        kinds = ", ".join(sorted(contract.ops))
        problems.append(f"no {kinds} op with >= {contract.min_weight_elements} weights: nothing the mode quantizes")
    if io != contract.io:
        problems.append(f"input/output are {io[0]}/{io[1]}, the mode says {contract.io[0]}/{contract.io[1]}")
    return problems


#: the contract reader of each artifact format (``Mode.format``)
CHECKS = {"tflite": lambda path, contract, exempt: check(TfliteModel.read(path), contract, exempt),
          "onnx": check_onnx}
