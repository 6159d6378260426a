"""The pytest plugin, driven for real through pytester (as pytest-benchmark tests itself)."""

import json

import pytest

from paths import BENCHMARKS


@pytest.fixture
def suite(pytester, qbench):
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    return [f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider"]


def test_axes_parametrize_in_model_mode_device_order(pytester, suite):
    pytester.makepyfile(
        test_axes="""
        def test_invoke(qbench_model, qbench_mode, qbench_device):
            pass
        def test_size(qbench_model, qbench_mode):
            pass
        """
    )
    result = pytester.runpytest(*suite, "--collect-only", "-q", "--qbench-models=mnist_cnn", "--qbench-modes", "int8,float32",
                                "--qbench-devices", "xnnpack,reference")
    ids = [line for line in result.outlines if "::" in line]
    assert "test_axes.py::test_invoke[mnist_cnn-int8-xnnpack]" in ids
    assert "test_axes.py::test_size[mnist_cnn-float32]" in ids
    assert sum("test_invoke" in i for i in ids) == 4 and sum("test_size" in i for i in ids) == 2


@pytest.mark.parametrize("option, bad", [("--qbench-modes", "int9"), ("--qbench-devices", "tpu"),
                                         ("--qbench-models", "resnet")])
def test_unknown_id_is_a_usage_error_listing_valid_ids(pytester, suite, option, bad):
    result = pytester.runpytest(*suite, option, bad)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert bad in err and "valid" in err
    assert {"--qbench-modes": "int16x8", "--qbench-devices": "xnnpack-mt", "--qbench-models": "mnist_cnn"}[option] in err


def test_qbench_error_is_reported_without_traceback(pytester, suite):
    pytester.makepyfile(
        test_err="""
        from qbench.errors import QbenchError
        def test_it():
            raise QbenchError("the dataset is gone", "put it back")
        """
    )
    result = pytester.runpytest(*suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*qbench: the dataset is gone*", "*fix: put it back*"])
    assert "raise QbenchError" not in result.stdout.str()


def test_warm_run_skips_tensorflow_and_writes_complete_results(pytester, suite, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    for mode in ("float32", "int8"):
        qbench.artifacts.tflite("mnist_cnn", mode)  # warm the cache this run uses
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(
        *suite, "--qbench-models=mnist_cnn", "--qbench-modes", "float32,int8", "--qbench-devices", "xnnpack,builtin",
        "--benchmark-max-time=0.01", "--benchmark-min-rounds=3", f"--benchmark-json={out}",
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*0 artifact(s) built and * evaluation(s) run this session, TensorFlow not imported*"])
    run = json.loads(out.read_text())
    assert run["machine_info"]["qbench"]["arch"]
    names = {b["name"] for b in run["benchmarks"]}
    assert names == {f"test_invoke[mnist_cnn-{m}-{d}]" for m in ("float32", "int8") for d in ("xnnpack", "builtin")}
    for bench in run["benchmarks"]:
        info = bench["extra_info"]
        for key in ("model", "mode", "device", "model_bytes", "size_ratio", "accuracy", "versions", "arch",
                    "latency_p90_s", "init_s", "first_invoke_s", "backend", "peak_rss_bytes", "weights_sha256"):
            assert key in info, key
        assert info["source"] == "shipped" and info["weights_sha256"] == qbench.artifacts.spec("mnist_cnn").shipped().sha256
        assert info["accuracy"] >= 0.975
        assert (info["backend"]["delegate_partitions"] > 0) == (info["device"] == "xnnpack")
        assert info["peak_rss_bytes"] <= 150 * 2**20  # a MNIST case's whole process (issue: MNIST <= 150 MiB)


def test_compiled_model_devices_run_the_latency_benchmark(pytester, suite, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    qbench.artifacts.tflite("mnist_cnn", "int8")
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(
        *suite, "--qbench-models=mnist_cnn", "--qbench-modes=int8", "--qbench-devices", "cm-xnnpack,cm-reference",
        "--benchmark-max-time=0.01", "--benchmark-min-rounds=3", f"--benchmark-json={out}",
    )
    result.assert_outcomes(passed=2)  # includes: the timed run_by_index loop computed what the untimed call did
    assert "INFO" not in result.stdout.str() + result.stderr.str()  # LiteRT's load log stays off the terminal
    infos = {b["extra_info"]["device"]: b["extra_info"] for b in json.loads(out.read_text())["benchmarks"]}
    assert infos["cm-xnnpack"]["backend"]["runtime"] == "compiled_model" and infos["cm-xnnpack"]["accuracy"] >= 0.975
    assert infos["cm-xnnpack"]["eval_device"] == "cm-xnnpack" and infos["cm-reference"]["backend"]["kernels"] == "builtin"


def test_gpu_device_skips_with_litert_reason_in_the_summary(pytester, suite, qbench):
    from qbench.runtime.accelerators import unavailable_reason

    qbench.artifacts.tflite("mnist_cnn", "float32")
    pytester.copy_example(str(BENCHMARKS / "test_quality.py"))
    result = pytester.runpytest(*suite, "--qbench-models=mnist_cnn", "--qbench-modes=float32",
                                "--qbench-devices=cm-gpu", "-k", "not scenes", "-rs")
    if unavailable_reason("gpu") is None:  # a machine with a GPU LiteRT can use
        result.assert_outcomes(passed=1)
        return
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *device 'cm-gpu': LiteRT finds no usable GPU here: *"])


def test_a_ready_tflite_joins_the_matrix_in_its_own_mode_only(pytester, suite, qbench):
    path = qbench.artifacts.tflite("mnist_cnn", "float32").path
    pytester.makepyfile(
        test_mine="""
        def test_quality(qbench, qbench_model, qbench_mode, qbench_device):
            assert qbench.evaluator.result(qbench_model, qbench_mode, qbench_device)["accuracy"] > 0.97
        """
    )
    result = pytester.runpytest(*suite, f"--qbench-model=mine={path},dataset=mnist", "--qbench-models=mine",
                                "--qbench-modes=float32,int8", "--qbench-devices=builtin", "-rs")
    result.assert_outcomes(passed=1, skipped=1)  # the converter cannot re-quantize a .tflite: it says so
    result.stdout.fnmatch_lines(["*SKIPPED*mine is a ready .tflite: TFLiteConverter needs the Keras*int8*"])


def test_bad_model_option_is_a_usage_error(pytester, suite, tmp_path):
    result = pytester.runpytest(*suite, f"--qbench-model=mine={tmp_path / 'missing.pb'},dataset=mnist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "missing.pb" in result.stderr.str()


@pytest.mark.parametrize("models, missing", [("mnist_cnn", ["matplotlib"]),
                                             ("deeplab_scenes", ["matplotlib", "cityscapesscripts"])])
def test_samples_without_their_packages_is_a_usage_error(pytester, suite, monkeypatch, tmp_path, models, missing):
    """A run-stage install (requirements/run.txt only) has no matplotlib: refuse before the run, not after."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else find_spec(name, *a))
    result = pytester.runpytest(*suite, "--qbench-models", models, "--qbench-samples", str(tmp_path / "samples"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"draws with {' and '.join(missing)}" in result.stderr.str()
    assert "requirements/build.txt" in result.stderr.str()
    assert not (tmp_path / "samples").exists()


def test_a_test_about_a_model_the_user_did_not_select_is_deselected_not_skipped(pytester, suite):
    pytester.makepyfile(test_only="""
        import pytest
        @pytest.mark.qbench_models("deeplab_scenes")
        def test_scenes_only(qbench_model):
            assert qbench_model == "deeplab_scenes"
        """)
    result = pytester.runpytest(*suite, "--co", "-q", "--qbench-models=mnist_cnn")
    assert "1 deselected" in result.stdout.str() and "skipped" not in result.stdout.str()
    result = pytester.runpytest(*suite, "--co", "-q", "--qbench-models=mnist_cnn,deeplab_scenes")
    result.stdout.fnmatch_lines(["test_only.py::test_scenes_only[[]deeplab_scenes[]]"])
