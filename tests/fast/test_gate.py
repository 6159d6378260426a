"""qbench gate: quality, size, latency-ratio and raw-sample rules, machine checks, settings, and bad input."""

from __future__ import annotations

import pytest

import benchjson
from qbench.errors import QbenchError
from qbench.gate import GateConfig, gate

ARM_EMU = dict(arch="aarch64", emulated="qemu-aarch64", emulated_cpu="cortex-a72", node="ci-x86")


def run_gate(tmp_path, baseline: dict, current: dict, **config):
    base = benchjson.write(tmp_path / "baseline.json", baseline)
    cur = benchjson.write(tmp_path / "current.json", current)
    return gate(base, cur, GateConfig(**config))


def rules(result) -> set[tuple[str, str]]:
    return {(f.case, f.rule) for f in result.failures}


def test_run_passes_against_itself(tmp_path):
    run = benchjson.make_run(models=("mnist_cnn", "deeplab_scenes"), rounds=20)
    result = run_gate(tmp_path, run, run)
    assert result.passed and result.failures == []
    assert result.raw_compared
    assert "PASSED: 48 case(s)" in result.table
    assert "FAIL" not in result.table


def test_int8_accuracy_drop_fails_and_names_the_culprit(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run()
    benchjson.find(cur, "mnist_cnn", "int8", "xnnpack")["accuracy"] -= 0.01
    result = run_gate(tmp_path, base, cur)
    assert not result.passed
    assert rules(result) == {("mnist_cnn int8 xnnpack", "accuracy_tol")}
    row = next(line for line in result.table.splitlines() if line.startswith("| int8 ") and "| xnnpack " in line)
    assert "FAIL: accuracy_tol" in row and "(-0.0100)" in row
    assert "mnist_cnn int8 xnnpack: accuracy dropped by 0.0100" in result.table


def test_drop_within_tolerance_passes_and_tolerance_is_configurable(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run()
    benchjson.find(cur, "mnist_cnn", "int8", "xnnpack")["accuracy"] -= 0.0015
    assert run_gate(tmp_path, base, cur).passed
    assert not run_gate(tmp_path, base, cur, accuracy_tol=0.001).passed


def test_segmentation_miou_drop_fails(tmp_path):
    base, cur = (benchjson.make_run(models=("deeplab_scenes",)) for _ in range(2))
    benchjson.find(cur, "deeplab_scenes", "int16x8", "builtin")["miou"] -= 0.02
    result = run_gate(tmp_path, base, cur)
    assert rules(result) == {("deeplab_scenes int16x8 builtin", "miou_tol")}


def test_latency_ratio_growth_fails(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run()
    benchjson.scale_latency(cur, 1.5, mode="int8", device="xnnpack")
    result = run_gate(tmp_path, base, cur)
    assert rules(result) == {("mnist_cnn int8 xnnpack", "latency_ratio_tol")}
    # int8 went from 0.55x to 0.82x float32 on xnnpack: the 95 % intervals of the two ratios lie apart
    assert "latency relative to float32 on xnnpack grew from x0.5" in result.table and "95 % intervals" in result.table


def test_latency_ratio_is_robust_to_a_slower_machine(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run(**ARM_EMU)
    assert run_gate(tmp_path, base, cur).passed  # ~80x slower in absolute terms, same ratios


def test_model_growth_fails_once_per_mode(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run()
    for device in benchjson.DEVICES:
        benchjson.find(cur, "mnist_cnn", "float16", device)["model_bytes"] += 1
    result = run_gate(tmp_path, base, cur)
    assert [(f.case, f.rule) for f in result.failures] == [("mnist_cnn float16", "size_tol")]
    assert run_gate(tmp_path, base, cur, size_tol=0.001).passed


def test_raw_mann_whitney_detects_a_30_percent_shift(tmp_path):
    base, cur = benchjson.make_run(rounds=30, seed=1), benchjson.make_run(rounds=30, seed=2)
    benchjson.scale_latency(cur, 1.3)  # everything slower: ratios unchanged, only raw times can see it
    result = run_gate(tmp_path, base, cur)
    assert result.raw_compared
    assert {rule for _, rule in rules(result)} == {"raw"}
    assert len(result.failures) == 24
    assert "mnist_cnn float32 xnnpack: raw latency +30%" in result.table


def test_raw_ignores_noise_and_small_significant_shifts(tmp_path):
    base, cur = benchjson.make_run(rounds=30, seed=1), benchjson.make_run(rounds=30, seed=2)
    assert run_gate(tmp_path, base, cur).passed  # two noise draws of the same machine
    big_base, big_cur = benchjson.make_run(rounds=400, seed=3), benchjson.make_run(rounds=400, seed=4)
    benchjson.scale_latency(big_cur, 1.05)
    assert run_gate(tmp_path, big_base, big_cur).passed  # below the 10 % effect floor...
    assert not run_gate(tmp_path, big_base, big_cur, raw_min_shift=0.01).passed  # ...though significant


def test_raw_comparison_across_architectures_is_refused(tmp_path):
    base, cur = benchjson.make_run(rounds=20), benchjson.make_run(rounds=20, **ARM_EMU)
    result = run_gate(tmp_path, base, cur)
    assert result.passed and not result.raw_compared
    assert "raw latency: not compared (x86_64 vs aarch64 emulated)" in result.table
    with pytest.raises(QbenchError, match="x86_64 vs aarch64 emulated"):
        run_gate(tmp_path, base, cur, raw="require")


def test_raw_comparison_native_vs_emulated_and_other_cpu_is_refused(tmp_path):
    native = benchjson.make_run(rounds=20, arch="aarch64", cpu_model="Cortex-A72", node="pi")
    other_cpu = benchjson.make_run(rounds=20, arch="aarch64", cpu_model="Cortex-A76", node="pi5")
    assert "not compared (aarch64 vs aarch64 emulated)" in run_gate(tmp_path, native,
                                                                      benchjson.make_run(rounds=20, **ARM_EMU)).table
    assert "not compared (aarch64 Cortex-A72 vs aarch64 Cortex-A76)" in run_gate(tmp_path, native, other_cpu).table
    other_host = benchjson.make_run(rounds=20, **{**ARM_EMU, "cpu_model": "AMD EPYC 7B13"})
    table = run_gate(tmp_path, benchjson.make_run(rounds=20, **ARM_EMU), other_host).table
    assert "not compared (aarch64 cortex-a72 (emulated) on hosts Intel Xeon E5-2690 v4 vs AMD EPYC 7B13)" in table


def test_raw_required_without_samples_is_an_error(tmp_path):
    run = benchjson.make_run()
    assert "no raw samples" in run_gate(tmp_path, run, run).table
    with pytest.raises(QbenchError, match="no raw samples"):
        run_gate(tmp_path, run, run, raw="require")


def test_cases_in_one_run_only_are_listed_not_failed(tmp_path):
    base, cur = benchjson.make_run(), benchjson.make_run(devices=("xnnpack", "builtin", "reference"))
    result = run_gate(tmp_path, base, cur)
    assert result.passed
    assert len(result.only_in_baseline) == 6 and result.only_in_current == []
    assert f"only in baseline (not gated): mnist_cnn xnnpack-mt: {', '.join(benchjson.MODES)}\n" in result.table
    strict = run_gate(tmp_path, base, cur, fail_on_missing=True)
    assert not strict.passed and {r for _, r in rules(strict)} == {"fail_on_missing"}


def test_nothing_in_common_is_an_error(tmp_path):
    with pytest.raises(QbenchError, match="no model/mode/device case in common") as info:
        run_gate(tmp_path, benchjson.make_run(), benchjson.make_run(models=("deeplab_scenes",)))
    assert "mnist_cnn" in str(info.value) and "deeplab_scenes" in str(info.value)


def test_bad_input_is_an_error(tmp_path):
    good = benchjson.write(tmp_path / "good.json", benchjson.make_run())
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(QbenchError, match="empty.json is empty"):
        gate(good, tmp_path / "empty.json", GateConfig())
    with pytest.raises(QbenchError, match="does not exist"):
        gate(tmp_path / "nope.json", good, GateConfig())


def test_config_from_pytest_ini_and_pyproject(tmp_path):
    assert GateConfig.from_ini(tmp_path) == GateConfig()
    (tmp_path / "pyproject.toml").write_text('[tool.qbench.gate]\nmiou_tol = 0.01\nlatency-ratio-tol = 0.5\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra\n\n[qbench:gate]\n"
                                         "accuracy_tol = 0.004\nlatency_ratio_tol = 0.3\nfail_on_missing = yes\n")
    config = GateConfig.from_ini(tmp_path)
    assert (config.accuracy_tol, config.miou_tol, config.latency_ratio_tol, config.fail_on_missing) == (
        0.004, 0.01, 0.3, True)
    overridden = config.with_overrides(accuracy_tol="0.02", raw="off", miou_tol=None)
    assert (overridden.accuracy_tol, overridden.raw, overridden.miou_tol) == (0.02, "off", 0.01)


@pytest.mark.parametrize(("ini", "message"), [
    ("accuracy_tolerance = 0.1", "unknown gate setting 'accuracy_tolerance'"),
    ("accuracy_tol = lots", "is not a number"),
    ("accuracy_tol = -0.1", "must be a number >= 0"),
    ("raw = sometimes", "must be one of auto, require, off"),
    ("raw_alpha = 1.5", "between 0 and 1"),
    ("fail_on_missing = perhaps", "true or false"),
])
def test_bad_settings_are_errors(tmp_path, ini, message):
    (tmp_path / "pytest.ini").write_text(f"[qbench:gate]\n{ini}\n")
    with pytest.raises(QbenchError, match=message):
        GateConfig.from_ini(tmp_path)


def test_fidelity_snr_drop_beyond_its_tolerance_fails(tmp_path):
    base = benchjson.make_run(models=("face_detector",), devices=("xnnpack",))
    cur = benchjson.make_run(models=("face_detector",), devices=("xnnpack",))
    benchjson.find(cur, "face_detector", "int8", "xnnpack")["snr_db"] -= 5.0
    benchjson.find(cur, "face_detector", "float16", "xnnpack")["snr_db"] -= 2.0  # within the default 3 dB
    result = gate(benchjson.write(tmp_path / "b.json", base), benchjson.write(tmp_path / "c.json", cur))
    assert not result.passed
    assert [(f.case, f.rule) for f in result.failures] == [("face_detector int8 xnnpack", "snr_db_tol")]
    relaxed = GateConfig().with_overrides(snr_db_tol=6.0)
    assert gate(tmp_path / "b.json", tmp_path / "c.json", relaxed).passed
