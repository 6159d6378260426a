"""Cross-machine consistency: each difference attributed to what explains it, and failed where nothing does."""

import pytest
from benchjson import find, make_run, write

from qbench.consistency import compare
from qbench.errors import QbenchError

DEVICES = ("xnnpack", "builtin")


def with_outputs(run: dict) -> dict:
    """Identical output digests and samples for every case, as two machines that agree would record."""
    for entry in run["benchmarks"]:
        info = entry["extra_info"]
        integer = info["mode"] in ("int8", "int16x8")
        info.update(
            outputs_xxh3_128=f"out-{info['mode']}-{info['device']}",
            predictions_sha256=f"pred-{info['mode']}-{info['device']}",
            output_dtype="uint8" if info["mode"] == "int8" else ("int16" if integer else "float32"),
            output_sample=[10, 200, 37, 5] if integer else [0.5, -3.25, 7.0, 1.0],
        )
    return run


@pytest.fixture
def runs(tmp_path):
    x86 = with_outputs(make_run(devices=DEVICES))
    arm = with_outputs(make_run(devices=DEVICES, arch="aarch64", cpu_model="host x86", emulated="qemu-aarch64",
                                emulated_cpu="cortex-a72", node="ci-arm"))
    return tmp_path, x86, arm


def check(tmp_path, x86, arm):
    return compare(write(tmp_path / "x86.json", x86), write(tmp_path / "arm.json", arm))


def test_identical_outputs_pass(runs):
    result = check(*runs)
    assert result.passed, result.table
    assert "bit-identical" in result.table and "aarch64 cortex-a72 (emulated)" in result.table


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("delta, accuracy_drop, passed", [(1, 0.0, True), (12, 0.001, True), (1, 0.01, False)])
def test_differing_integer_outputs_are_judged_by_quality(runs, device, delta, accuracy_drop, passed):
    """x86 and NEON requantization round near-ties differently, 1 LSB per op, compounding over a deep model's
    layers (deeplab int8: 12 LSB by the tenth layer): raw differences are reported, quality must agree."""
    tmp_path, x86, arm = runs
    info = find(arm, "mnist_cnn", "int8", device)
    info.update(outputs_xxh3_128="other", output_sample=[10, 200, 37, 5 + delta], accuracy=info["accuracy"] - accuracy_drop)
    result = check(tmp_path, x86, arm)
    assert result.passed is passed, result.table
    if passed:
        assert f"requantization rounding (x86 vs NEON, up to {delta} LSB in the sample), quality equal" in result.table
    else:
        assert result.failures == [f"mnist_cnn/int8/{device}: integer outputs differ and quality differs by 0.0100 (> 0.002)"]


@pytest.mark.parametrize("value, passed", [(7.000001, True), (7.5, False)])
def test_float_outputs_within_relative_tolerance(runs, value, passed):
    tmp_path, x86, arm = runs
    find(arm, "mnist_cnn", "float32", "xnnpack").update(outputs_xxh3_128="other", output_sample=[0.5, -3.25, value, 1.0])
    assert check(tmp_path, x86, arm).passed is passed


def test_quality_difference_beyond_tolerance_fails(runs):
    tmp_path, x86, arm = runs
    info = find(arm, "mnist_cnn", "float16", "builtin")
    info.update(outputs_xxh3_128="other", accuracy=info["accuracy"] - 0.01)
    result = check(tmp_path, x86, arm)
    assert not result.passed and "quality differs" in result.failures[0]


def test_runs_without_common_cases_are_refused(tmp_path):
    a = with_outputs(make_run(devices=("xnnpack",)))
    b = with_outputs(make_run(devices=("reference",)))
    with pytest.raises(QbenchError, match="nothing|no model"):
        compare(write(tmp_path / "a.json", a), write(tmp_path / "b.json", b))


def test_a_run_from_an_older_qbench_is_named_not_judged(runs):
    """Runs saved before the xxh3 digest carry outputs_sha256: not comparable, and the table says why."""
    tmp_path, x86, arm = runs
    info = find(arm, "mnist_cnn", "int8", "xnnpack")
    info["outputs_sha256"] = info.pop("outputs_xxh3_128")
    result = check(tmp_path, x86, arm)
    assert not result.passed
    assert "older qbench" in result.table
    assert result.failures == ["mnist_cnn/int8/xnnpack: re-run both with this qbench: results lack outputs_xxh3_128"]


@pytest.mark.parametrize("quality, passed", [(0.9911, True), (0.95, False)])
def test_gpu_outputs_are_judged_on_quality_only(runs, quality, passed):
    """A GPU's fp16 arithmetic differs from any CPU's far beyond 1 LSB; only the quality must agree."""
    tmp_path, x86, arm = runs
    for run in (x86, arm):  # the xnnpack case stands in for a cm-gpu one
        find(run, "mnist_cnn", "int8", "xnnpack").update(device="cm-gpu", backend={"kernels": "gpu"})
    find(arm, "mnist_cnn", "int8", "cm-gpu").update(outputs_xxh3_128="other", output_sample=[10, 250, 30, 90],
                                                    accuracy=quality)
    result = check(tmp_path, x86, arm)
    assert result.passed is passed, result.table
    assert "gpu arithmetic: judged on quality only" in result.table or not passed


def _as_ort(run: dict) -> dict:
    """The builtin cases renamed as ONNX Runtime's on ort-cpu (float32 -> ort-float32, dynamic -> ort-dynamic-int8,
    int8-float-io -> ort-int8: float input and output, as ORT's static modes keep them)."""
    names = {"float32": "ort-float32", "dynamic": "ort-dynamic-int8", "int8-float-io": "ort-int8"}
    for entry in run["benchmarks"]:
        info = entry["extra_info"]
        if info["device"] == "builtin" and info["mode"] in names:
            info.update(mode=names[info["mode"]], device="ort-cpu", output_dtype="float32",
                        output_sample=[0.5, -3.25, 7.0, 1.0], backend={"runtime": "onnxruntime", "kernels": "cpu"})
    return run


@pytest.mark.parametrize("mode, sample_last, accuracy_drop, verdict", [
    ("ort-int8", 1.5, 0.0, "requantization rounding"),  # calibrated: judged on quality, as LiteRT's integer modes
    ("ort-int8", 1.5, 0.01, "FAIL"),
    ("ort-float32", 1.000001, 0.0, "within tolerance (cpu rounding)"),  # MLAS's x86 and NEON summation orders
    ("ort-float32", 1.5, 0.0, "FAIL"),
    ("ort-dynamic-int8", 1.000001, 0.0, "within tolerance"),  # float between ops: the float rule
])
def test_onnx_runtimes_cases_are_judged_by_the_same_rules(runs, mode, sample_last, accuracy_drop, verdict):
    tmp_path, x86, arm = runs
    x86, arm = _as_ort(x86), _as_ort(arm)
    info = find(arm, "mnist_cnn", mode, "ort-cpu")
    info.update(outputs_xxh3_128="other", output_sample=[0.5, -3.25, 7.0, sample_last],
                accuracy=info["accuracy"] - accuracy_drop)
    result = check(tmp_path, x86, arm)
    row = next(line for line in result.table.splitlines() if f"| {mode} " in line and "ort-cpu" in line)
    assert verdict in row, row
    assert result.passed is (verdict != "FAIL"), result.table


@pytest.mark.parametrize("saturating, accuracy_drop, verdict", [
    ("x86", 0.004, "known"),  # MNIST ort-int8 on an AVX2-only EPYC vs an emulated A72: 0.9760 vs 0.9800
    ("x86", 0.02, "FAIL"),  # more than saturation explains
    ("both", 0.004, "FAIL"),  # the same arithmetic on both sides: nothing explains a difference
    ("neither", 0.004, "FAIL"),
])
def test_a_saturating_int8_accumulation_is_named_not_failed(runs, saturating, accuracy_drop, verdict):
    """ONNX Runtime's U8S8 kernels on x86-64 without VNNI add product pairs in int16 with saturation: the runner
    says so (backend.int8_accumulation), and a static integer case's quality may differ by what that explains."""
    tmp_path, x86, arm = runs
    x86, arm = _as_ort(x86), _as_ort(arm)
    for run, side in ((x86, "x86"), (arm, "arm")):
        accumulation = "int16-saturating" if saturating in (side, "both") else "int32"
        find(run, "mnist_cnn", "ort-int8", "ort-cpu")["backend"]["int8_accumulation"] = accumulation
    info = find(x86, "mnist_cnn", "ort-int8", "ort-cpu")
    info.update(outputs_xxh3_128="other", output_sample=[0.5, -3.25, 7.0, 2.5],
                accuracy=info["accuracy"] - accuracy_drop)
    result = check(tmp_path, x86, arm)
    row = next(line for line in result.table.splitlines() if "| ort-int8 " in line)
    assert row.rstrip(" |").endswith(verdict), row
    assert result.passed is (verdict != "FAIL"), result.table
    if verdict == "known":
        assert "accumulates int8 products in int16 with saturation" in row
        assert "known arithmetic differences, not failures: 1 case(s)" in result.table
