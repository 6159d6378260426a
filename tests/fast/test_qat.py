"""The quantization-aware modes without TensorFlow: what they declare, when they do not apply (and why), the
contract rule tfmot's scheme needs, the training split a model offers, and the report's side-by-side table."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

import benchjson
import tiny_tflite
from qbench import tasks
from qbench.contracts import check
from qbench.data.idx import IdxKind
from qbench.data.npz import NpzKind
from qbench.errors import NotApplicable
from qbench.modes import MODES, Contract
from qbench.quantizers import BACKENDS
from qbench.quantizers.qat import QatBackend
from qbench.report.tables import twin_table
from qbench.sources import load_runs
from qbench.tflite_file import TfliteModel

QAT = [m for m in MODES.values() if m.backend == "qat"]


def test_the_qat_modes_are_opt_in_twins_of_the_full_integer_modes():
    assert {m.id for m in QAT} == {"qat-int8", "qat-int8-float-io"}
    for mode in QAT:
        twin = MODES.get(mode.twin)
        assert not mode.default, "QAT modes fine-tune: opt-in (--qbench-modes all or by id)"
        assert mode.recipe == twin.recipe and mode.calibrated and twin.calibrated
        assert mode.family == twin.family and mode.storage == twin.storage
        ours, theirs = mode.contract, twin.contract
        assert (ours.weights, ours.granularity, ours.activations, ours.io) == \
            (theirs.weights, theirs.granularity, theirs.activations, theirs.io)
    assert isinstance(BACKENDS.get("qat"), QatBackend)


def inputs(source_format="keras", task="classification"):
    return SimpleNamespace(model_id="m", source_format=source_format, task=tasks.get(task))


@pytest.mark.parametrize("source_format, named", [("tflite", "a ready .tflite"), ("frozen_graph", "a frozen graph"),
                                                  ("saved_model", "a SavedModel")])
def test_sources_without_keras_layers_do_not_apply_with_tfmots_reason(source_format, named):
    with pytest.raises(NotApplicable) as caught:
        QatBackend().check(inputs(source_format), MODES.get("qat-int8"))
    assert named in caught.value.problem and "to_quantize can only either be a keras" in caught.value.problem
    assert "int8" in caught.value.fix


def test_an_unlabelled_model_does_not_apply():
    with pytest.raises(NotApplicable) as caught:
        QatBackend().check(inputs(task="fidelity"), MODES.get("qat-int8-float-io"))
    assert "without labels" in caught.value.problem and "int8-float-io" in caught.value.fix


def test_a_labelled_keras_model_applies():
    for task in ("classification", "segmentation"):
        QatBackend().check(inputs(task=task), MODES.get("qat-int8"))


def test_dense_weights_may_be_per_tensor_only_where_the_contract_says():
    """tfmot's scheme quantizes Dense kernels per tensor: allowed for FULLY_CONNECTED by qat's contract, still
    refused by int8's, and a float FULLY_CONNECTED breaks both."""
    per_tensor = TfliteModel(tiny_tflite.dense(3, per_tensor=True), "tiny")
    ops = frozenset({"FULLY_CONNECTED"})
    qat = Contract("int8", ops=ops, granularity="per-channel", per_tensor_ops=ops)
    assert check(per_tensor, qat) == []
    assert check(per_tensor, Contract("int8", ops=ops, granularity="per-channel"))
    assert check(TfliteModel(tiny_tflite.dense(3, per_tensor=False), "tiny"), qat) == []
    assert check(per_tensor, MODES.get("qat-int8").contract), "uint8 I/O and int8 activations are still required"


def test_idx_and_npz_train_test_sets_offer_their_training_split(tmp_path):
    import byo

    x, y = byo.bars(40, 0)
    xt, yt = byo.bars(20, 1)
    ctx = SimpleNamespace(settings=None, cache=None)
    idx = IdxKind().load(byo.write_idx_set(tmp_path / "idx", x, y, xt, yt, compress=False), ctx)
    np.savez(tmp_path / "tt.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    for data in (idx, NpzKind().load(tmp_path / "tt.npz", ctx)):
        raw, labels = data.training()
        assert np.array_equal(raw, x) and np.array_equal(labels, y)
    assert NpzKind().load(tmp_path / "xy.npz", ctx).training is None, "a seeded split: only calibration samples"


def with_qat(run: dict) -> dict:
    """``run`` plus a qat-int8 case per int8 case: 0.3 points better, 5 % slower, fine-tuned for 12 s."""
    for entry in list(run["benchmarks"]):
        if entry["extra_info"]["mode"] == "int8":
            twin = copy.deepcopy(entry)
            info = twin["extra_info"]
            info.update(mode="qat-int8", accuracy=info["accuracy"] + 0.003,
                        fine_tune={"steps": 600, "seconds": 12.0, "loss": [0.2, 0.05]})
            benchjson.scale_latency({"benchmarks": [twin]}, 1.05)
            twin["name"] = twin["name"].replace("-int8-", "-qat-int8-")
            run["benchmarks"].append(twin)
    return run


def test_the_report_puts_each_qat_case_beside_its_twin(tmp_path):
    path = benchjson.write(tmp_path / "run.json", with_qat(benchjson.make_run(devices=("xnnpack", "builtin"))))
    table = twin_table(load_runs([path]))
    assert table is not None and len(table.rows) == 2
    column = {h: i for i, h in enumerate(table.headers)}
    for row in table.rows:
        assert row[column["Mode"]] == "qat-int8" and row[column["Twin"]] == "int8"
        assert row[column["Difference"]] == "+0.30"
        assert row[column["Speed vs twin"]] == "x0.95"
        assert row[column["Fine-tune"]] == "12 s (600 steps)"
    assert twin_table(load_runs([benchjson.write(tmp_path / "plain.json", benchjson.make_run())])) is None
