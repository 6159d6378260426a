"""Explain and repair on models whose faults are known: a layer made hard to quantize on purpose must be the one
explain ranks worst and the one the +budget search keeps; a mode that meets its budget must come back unchanged.

The models are small multi-layer perceptrons written straight into .tflite files (``tests/mlp.py``: no TensorFlow,
milliseconds to build), quantized by ai-edge-quantizer. One test takes the converter route through TensorFlow's
QuantizationDebugger and is the only one importing TensorFlow.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import benchjson
import mlp
from qbench import contracts, modes
from qbench.cache import Cache
from qbench.errors import NotApplicable, QbenchError
from qbench.repair.explainer import Explainer
from qbench.repair.compare import compare
from qbench.metrics import SNR_CAP_DB
from qbench.models.imported import parse_model_option
from qbench.report import write_report
from qbench.size import allowance, predicted_bytes
from qbench.pipeline.session import open_session

OUTLIER_LAYER = mlp.layer_name(1)


def session_with(cache: Cache, spec, **given):
    """A session that knows one user model without registering it process-wide."""
    return open_session(cache=str(cache.root), models=[spec], **given)


def explanation(session, model_id, mode_id, **kw):
    return Explainer(session.artifacts).explanation(model_id, mode_id, **kw)


def _model(root: Path, name: str, layers) -> SimpleNamespace:
    model = root / f"{name}.tflite"
    model.write_bytes(mlp.to_tflite(layers, 16))
    data = mlp.write_data(layers, root / f"{name}.npz")
    option = f"{name}={model},dataset=npz:{data}"
    return SimpleNamespace(id=name, option=option, spec=parse_model_option(option), path=model)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlp")
    return SimpleNamespace(root=root, cache=Cache(root / "cache"), outlier=_model(root, "outlier", mlp.outlier_mlp()),
                           clean=_model(root, "clean", mlp.clean_mlp()))


@pytest.fixture(scope="module")
def outlier(files):
    return session_with(files.cache, files.outlier.spec)


@pytest.fixture(scope="module")
def clean(files):
    return session_with(files.cache, files.clean.spec)


def test_a_float_model_against_itself_is_exact_at_every_layer(outlier):
    path = outlier.artifacts.tflite("outlier", "float32").path
    table = compare(path, path, outlier.artifacts.eval_set("outlier").x[:4])
    assert [l.op for l in table.layers] == ["FULLY_CONNECTED"] * 3
    assert all(l.snr_db == SNR_CAP_DB and l.added_snr_db == SNR_CAP_DB for l in table.layers)
    assert table.output_snr_db == SNR_CAP_DB and not any(l.quantized for l in table.layers)


@pytest.mark.filterwarnings("ignore:Warning. Enabling .experimental_preserve_all_tensors.:UserWarning")
def test_accumulated_error_is_what_ai_edge_quantizer_validate_reports(clean):
    """Our per-tensor SNR against the float32 model equals AEQ's own validation (one sample, built-in kernels)."""
    from ai_edge_quantizer import model_validator
    from ai_edge_quantizer.utils import validation_utils

    reference = clean.artifacts.build_inputs("clean").reference_bytes("aeq-weight-int4")
    quantized = clean.artifacts.tflite("clean", "aeq-weight-int4").path
    sample = clean.artifacts.eval_set("clean").x[:1]
    ours = {l.tensor: l.snr_db for l in compare(reference, quantized, sample).layers}
    theirs = model_validator.compare_model(
        reference, quantized.read_bytes(), {"serving_default": [{"input": sample.astype(np.float32)}]},
        [validation_utils.ValidationErrorMetric.SNR], use_xnnpack=False, num_threads=1,
    ).get_all_tensor_results()
    checked = 0
    for tensor, snr_db in ours.items():
        assert 10 * math.log10(theirs[tensor]["snr"]) == pytest.approx(snr_db, abs=0.01), tensor
        checked += 1
    assert checked == 3 and min(ours.values()) < 40  # int4 weights: a real error, not a trivially exact match


def test_explain_ranks_the_outlier_layer_worst_and_budget_keeps_it_at_float(outlier):
    base, verdict = outlier.artifacts.tflite("outlier", "aeq-weight-int4"), outlier.evaluator.verdict("outlier", "aeq-weight-int4",
                                                                                  "xnnpack")
    assert verdict.within_budget is False  # the outlier breaks int4 (and int8) weights of that layer
    table = explanation(outlier, "outlier", "aeq-weight-int4")
    assert table.ranked()[0].tensor == OUTLIER_LAYER and table.ranked()[0].precision == "w int4 / a float32"
    assert table.ranked()[0].added_snr_db < min(l.added_snr_db for l in table.layers[1:] if l.tensor != OUTLIER_LAYER)

    artifact = outlier.artifacts.tflite("outlier", "aeq-weight-int4+budget")
    assert artifact.manifest["kept_layers"] == {OUTLIER_LAYER: "float"}
    steps = artifact.manifest["budget_search"]["steps"]
    assert [(s["changed"], s["kept"].get(OUTLIER_LAYER), s["within_budget"]) for s in steps] == [
        (None, None, False), (OUTLIER_LAYER, "int8", False), (OUTLIER_LAYER, "float", True)]  # int8 is not enough
    assert all(s["accepted"] for s in steps)  # each step improved accuracy: no other layer had to be tried
    assert base.bytes < artifact.bytes < outlier.artifacts.tflite("outlier", "float32").bytes
    for device in ("xnnpack", "builtin", "reference"):
        assert outlier.evaluator.verdict("outlier", "aeq-weight-int4+budget", device).within_budget is True


def test_the_budget_artifact_meets_its_contract_and_size_with_the_kept_layers_exempt(outlier):
    artifact = outlier.artifacts.tflite("outlier", "aeq-weight-int4+budget")
    mode, model = modes.get("aeq-weight-int4+budget"), outlier.artifacts.model_file("outlier", "aeq-weight-int4+budget")
    assert artifact.manifest["kept_outputs"] == [OUTLIER_LAYER]
    assert contracts.check(model, mode.contract, exempt=artifact.manifest["kept_outputs"]) == []
    assert OUTLIER_LAYER in "".join(contracts.check(model, mode.contract))  # it is float32: only the exemption helps
    reference = outlier.artifacts.size_reference("outlier", "aeq-weight-int4+budget")
    kept = predicted_bytes(reference, mode, artifact.manifest["kept_layers"])
    assert abs(artifact.bytes - kept) <= allowance(reference)
    unkept = predicted_bytes(reference, mode)
    # 4 x 32 weights in float32 (512 bytes) instead of int4 (64) plus 4 per-channel scales and zero points (48)
    assert kept - unkept == 512 - 64 - 4 * 12
    assert abs(artifact.bytes - kept) < abs(artifact.bytes - unkept)


def test_a_mode_within_budget_keeps_nothing_and_is_the_same_file(clean):
    artifact, base = clean.artifacts.tflite("clean", "aeq-weight-int8+budget"), clean.artifacts.tflite("clean", "aeq-weight-int8")
    assert artifact.manifest["kept_layers"] == {} and artifact.sha256 == base.sha256
    assert artifact.path.read_bytes() == base.path.read_bytes()
    assert [s["within_budget"] for s in artifact.manifest["budget_search"]["steps"]] == [True]


def test_a_budget_no_layer_can_meet_stops_at_its_cap_names_the_wider_mode_and_is_cached(files):
    """Accuracy 0.01 *above* float32's is out of reach even with every layer float: the search stops once the model is
    as large as aeq-weight-int8 would be, says so and names that mode, once."""
    ws = session_with(files.cache, files.clean.spec, budget_target="classification=-0.01")
    with pytest.raises(NotApplicable) as exc:
        ws.artifacts.tflite("clean", "aeq-weight-int4+budget")
    problem = exc.value.problem
    assert problem.startswith("budget not reachable with aeq-weight-int4: aeq-weight-int4+budget of clean stopped "
                              "after ") and "as large as aeq-weight-int8 would be" in problem, problem
    assert "still missing the budget (accuracy" in problem and exc.value.fix.startswith("use aeq-weight-int8")
    kept = int(problem.split(" layer(s) kept")[0].rsplit(" ", 1)[1])
    assert 1 <= kept <= 3  # it stopped at int8 size, before raising layers to float
    built = list(ws.cache.built)
    with pytest.raises(NotApplicable):
        again = session_with(files.cache, files.clean.spec, budget_target="classification=-0.01")
        again.artifacts.tflite("clean", "aeq-weight-int4+budget")
    assert ws.cache.built == built


def test_budget_targets_are_per_task_and_checked():
    from qbench.config.general import parse_targets

    assert parse_targets("segmentation=0.99, classification=0.002") == {"segmentation": 0.99, "classification": 0.002}
    assert parse_targets("0.99") == {"*": 0.99}
    for bad, named in (("segmentaton=0.99", "unknown task 'segmentaton'"), ("fidelity=high", "'high' is not a number")):
        with pytest.raises(QbenchError, match=named):
            parse_targets(bad)


def test_results_carry_the_worst_layers_under_the_explain_option(files):
    ws = session_with(files.cache, files.outlier.spec, explain=True)
    info = ws.results.info("outlier", "aeq-weight-int4", "builtin")
    assert info["explain"]["worst"][0]["tensor"] == OUTLIER_LAYER and info["explain"]["samples"] == 8
    assert "explain" not in ws.results.info("outlier", "float32", "builtin")
    assert "explain" not in session_with(files.cache, files.outlier.spec).results.info("outlier", "aeq-weight-int4",
                                                                                        "builtin")


def test_a_layer_without_a_twin_is_shown_as_not_measured_and_ranked_last(outlier):
    from dataclasses import replace

    from qbench.repair.command import to_markdown

    table = explanation(outlier, "outlier", "aeq-weight-int4")
    blind = replace(table, layers=(replace(table.layers[1], added_snr_db=None), *table.layers[::2]),
                    output_snr_db=None)
    assert blind.ranked()[-1].tensor == OUTLIER_LAYER  # a custom op: no float32 twin, nothing to rank it by
    info = blind.result_info(k=3)
    assert info["worst"][-1]["added_snr_db"] is None and info["output_snr_db"] is None
    json.dumps(info, allow_nan=False)  # what a results store ingests
    assert "| n/a" in to_markdown(blind, k=3)


def test_explain_with_a_bundle_is_refused_before_the_run(pytester, tmp_path):
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--qbench-bundle={tmp_path}", "--qbench-explain")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--qbench-explain needs the build machine's cache" in result.stderr.str() and "fix:" in result.stderr.str()


def test_explain_refuses_a_delegate_it_cannot_look_into(outlier):
    with pytest.raises(QbenchError, match="XNNPACK"):
        explanation(outlier, "outlier", "aeq-weight-int4", device="xnnpack")


def test_qbench_explain_writes_table_figure_and_json_that_the_report_links(files, tmp_path):
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "qbench.cli", "explain", "outlier", "aeq-weight-int4+budget",
                           "--out", str(out), "--cache", str(files.cache.root), "--model", files.outlier.option],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| 1    |" in proc.stdout and "Kept at higher precision by the budget search (1): dense_1 (float)" \
        in proc.stdout
    folder = out / "explain"
    saved = json.loads((folder / "outlier-aeq-weight-int4+budget.json").read_text())
    assert saved["kept_layers"] == {OUTLIER_LAYER: "float"} and len(saved["layers"]) == 3
    assert (folder / "outlier-aeq-weight-int4+budget.png").stat().st_size > 10_000
    run = benchjson.write(tmp_path / "run.json", benchjson.make_run(devices=("xnnpack",)))
    result = write_report([run], out)
    assert "## Explanations (qbench explain)" in result.markdown and "aeq-weight-int4+budget" in result.markdown
    assert 'src="explain/outlier-aeq-weight-int4%2Bbudget.png"' in result.index.read_text()


def test_converter_int8_budget_keeps_the_outlier_layer_through_the_quantization_debugger(tmp_path):
    """The same search on TFLiteConverter's int8 (uint8 input/output), layers kept float by the debugger's denylist."""
    import keras

    layers = mlp.outlier_mlp()
    model = keras.Sequential([keras.Input((16,)), *(keras.layers.Dense(l.weights.shape[0], activation=(
        "relu" if l.relu else None)) for l in layers)])
    for dense, layer in zip(model.layers, layers):
        dense.set_weights([layer.weights.T, layer.bias])
    model.save(tmp_path / "net.keras")
    data = mlp.write_data(layers, tmp_path / "net.npz")
    ws = session_with(Cache(tmp_path / "cache"), parse_model_option(f"net={tmp_path / 'net.keras'},dataset=npz:{data}"))
    assert ws.evaluator.verdict("net", "int8", "xnnpack").within_budget is False
    int8 = ws.artifacts.model_file("net", "int8")
    second = int8.tensors[[op for op in int8.ops if op.opcode == "FULLY_CONNECTED"][1].outputs[0]].name
    assert explanation(ws, "net", "int8").ranked()[0].tensor == second
    artifact = ws.artifacts.tflite("net", "int8+budget")
    assert artifact.manifest["kept_layers"] == {second: "float"}
    budgeted = ws.artifacts.model_file("net", "int8+budget")
    assert (budgeted.inputs[0].dtype, budgeted.outputs[0].dtype) == ("uint8", "uint8")  # the mode's I/O, kept
    assert ws.evaluator.verdict("net", "int8+budget", "builtin").within_budget is True
    assert contracts.check(budgeted, modes.get("int8+budget").contract, exempt=artifact.manifest["kept_outputs"]) == []
