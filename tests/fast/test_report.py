"""qbench report: tables, figures and index.html from synthetic runs of one or two machines, and bad input."""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import benchjson  # noqa: E402
from qbench.errors import QbenchError  # noqa: E402
from qbench.report import write_report  # noqa: E402
from qbench.sources import load_run, load_runs  # noqa: E402
from qbench.report.tables import model_table  # noqa: E402

ARM = dict(arch="aarch64", emulated="qemu-aarch64", emulated_cpu="cortex-a72", node="ci-x86",
           devices=("xnnpack", "reference"))


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory):
    d = tmp_path_factory.mktemp("one")
    run = benchjson.write(d / "x86.json", benchjson.make_run())
    return run, write_report([run], d / "report")


@pytest.fixture(scope="module")
def two_machines(tmp_path_factory):
    d = tmp_path_factory.mktemp("two")
    x86 = benchjson.write(d / "x86.json", benchjson.make_run(models=("mnist_cnn", "deeplab_scenes"), rounds=20))
    arm = benchjson.write(d / "arm.json", benchjson.make_run(**ARM))
    return (x86, arm), write_report([x86, arm], d / "report")


def assert_real_png(path):
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100, path
    assert image[..., :3].var() > 0, f"{path} is blank"


def test_one_run_writes_tables_figures_and_index(one_machine):
    _, result = one_machine
    assert result.tables.read_text() == result.markdown
    assert len(result.figures) >= 8
    for png in result.figures:
        assert png.parent == result.out
        assert_real_png(png)
    index = result.index.read_text()
    for png in result.figures:
        assert f'src="{png.name}"' in index
    assert "/" not in "".join(re.findall(r'src="([^"]*)"', index)), "image paths must be relative, same folder"


def test_one_run_table_has_every_case_once(one_machine):
    _, result = one_machine
    rows = [line for line in result.markdown.splitlines() if line.startswith("| x86_64")]
    # 1 line in the runs table + 6 modes x 4 devices
    assert len(rows) == 1 + 24
    assert sum(" int16x8 " in r and " reference " in r for r in rows) == 1


def test_mnist_only_index_says_segmentation_figures_were_skipped(one_machine):
    _, result = one_machine
    assert not any("miou" in p.name for p in result.figures)
    assert any("No segmentation model" in s for s in result.skipped)
    assert "No segmentation model" in result.index.read_text()


def test_speedup_is_float32_median_over_mode_median_on_same_device(one_machine):
    run_path, _ = one_machine
    run = load_run(run_path)
    table = model_table("mnist_cnn", [run])
    col = table.headers.index("Speedup vs float32")
    row = next(r for r in table.rows if r[1:3] == ["builtin", "int8"])
    expected = run.cases["mnist_cnn", "float32", "builtin"].latency_median_s / run.cases[
        "mnist_cnn", "int8", "builtin"].latency_median_s
    assert row[col] == f"x{expected:.2f}"
    assert expected > 1.5  # int8 builtin is ~2x faster in the synthetic run: a wrong ratio would show


def test_two_machines_with_different_devices(two_machines):
    _, result = two_machines
    md = result.markdown
    assert "aarch64 cortex-a72 (emulated)" in md and "x86_64 Intel Xeon E5-2690 v4" in md
    arm_rows = [line for line in md.splitlines() if line.startswith("| aarch64")]
    assert len(arm_rows) == 1 + 12  # runs table + 6 modes x {xnnpack, reference}
    assert not any(" builtin " in r or " xnnpack-mt " in r for r in arm_rows)
    assert "## deeplab_scenes (segmentation)" in md and "mIoU (%)" in md
    names = {p.name for p in result.figures}
    assert {"deeplab_scenes-miou.png", "deeplab_scenes-per-class-iou.png", "deeplab_scenes-tradeoff-size-miou.png",
            "mnist_cnn-accuracy.png", "mnist_cnn-tradeoff-latency-accuracy.png"} <= names
    assert len([n for n in names if n.startswith("mnist_cnn-")]) >= 8
    for png in result.figures:
        assert_real_png(png)


def test_same_cpu_twice_gets_distinct_labels(tmp_path):
    a = benchjson.write(tmp_path / "a.json", benchjson.make_run(node="host-a"))
    b = benchjson.write(tmp_path / "b.json", benchjson.make_run(node="host-b"))
    c = benchjson.write(tmp_path / "c.json", benchjson.make_run(node="host-b"))
    labels = [r.label for r in load_runs([a, b, c])]
    assert len(set(labels)) == 3
    assert labels[0].endswith("[host-a]") and labels[2].endswith("[host-b] [c]")


def test_directory_stands_for_its_json_files(tmp_path):
    (tmp_path / "Linux-CPython-3.11-64bit").mkdir()
    benchjson.write(tmp_path / "Linux-CPython-3.11-64bit" / "0001_run.json", benchjson.make_run())
    assert [r.path.name for r in load_runs([tmp_path])] == ["0001_run.json"]


def test_optional_keys_may_be_missing(tmp_path):
    run = benchjson.make_run(models=("deeplab_scenes",), per_class_iou=False, devices=("xnnpack",),
                             modes=("float32", "int8"))
    for entry in run["benchmarks"]:
        for key in ("latency_p90_s", "init_s", "first_invoke_s", "size_ratio", "fps"):
            del entry["extra_info"][key]
    path = benchjson.write(tmp_path / "run.json", run)
    result = write_report([path], tmp_path / "out")
    assert any("IoU per class" in s and "per_class_iou" in s for s in result.skipped)
    assert any("Start-up" in s for s in result.skipped)
    assert (tmp_path / "out" / "deeplab_scenes-miou.png").exists()
    table = model_table("deeplab_scenes", load_runs([path]))
    p90, fps = table.headers.index("p90 (ms)"), table.headers.index("FPS")
    assert {row[p90] for row in table.rows} == {"-"}  # neither latency_p90_s nor raw samples
    assert all(float(row[fps]) > 0 for row in table.rows)  # 1 / median when fps is missing


def test_text_from_runs_is_escaped_and_file_names_are_safe(tmp_path):
    run = benchjson.make_run(devices=("xnnpack",), modes=("float32", "int8"), node="<b>host</b>")
    for entry in run["benchmarks"]:
        entry["extra_info"]["model"] = "a<script>&b"
    result = write_report([benchjson.write(tmp_path / "run.json", run)], tmp_path / "out")
    index = result.index.read_text()
    assert "<script>" not in index and "a&lt;script&gt;&amp;b" in index
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+\.png", p.name) for p in result.figures)


def test_bad_inputs_raise_qbench_error(tmp_path):
    plain = benchjson.make_run()
    for entry in plain["benchmarks"]:
        entry["extra_info"] = {}
    no_median = benchjson.make_run()
    del no_median["benchmarks"][0]["extra_info"]["latency_median_s"]
    del no_median["benchmarks"][0]["stats"]["median"]
    cases = {
        "empty.json": ("", "is empty"),
        "truncated.json": (json.dumps(benchjson.make_run())[:500], "not valid JSON"),
        "list.json": ("[1, 2]", "not a pytest-benchmark run"),
        "nobench.json": (json.dumps({"machine_info": {}, "benchmarks": []}), "holds no benchmarks"),
        "plain.json": (json.dumps(plain), "none from qbench"),
        "nomedian.json": (json.dumps(no_median), "latency_median_s"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(QbenchError, match=message):
            write_report([tmp_path / name], tmp_path / "out")
    with pytest.raises(QbenchError, match="does not exist"):
        write_report([tmp_path / "missing.json"], tmp_path / "out")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(QbenchError, match="no \\*.json"):
        write_report([tmp_path / "empty-dir"], tmp_path / "out")


def test_newer_schema_is_refused(tmp_path):
    run = benchjson.make_run()
    run["benchmarks"][0]["extra_info"]["qbench_schema"] = 2
    with pytest.raises(QbenchError, match="schema 2"):
        load_run(benchjson.write(tmp_path / "run.json", run))


RUN_TEXT = json.dumps(benchjson.make_run(devices=("xnnpack",), modes=("float32", "int8")), indent=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(RUN_TEXT) - 1))
def test_any_truncation_is_a_qbench_error(tmp_path_factory, cut):
    path = tmp_path_factory.mktemp("cut") / "run.json"
    path.write_text(RUN_TEXT[:cut])
    with pytest.raises(QbenchError):
        load_run(path)


def test_runs_scored_on_fewer_samples_are_not_pooled(tmp_path):
    """An emulated run evaluates the first N samples (--qbench-eval-limit): its quality is shown, labelled,
    and kept out of the figures that pool quality across machines."""
    from qbench.report.plotting import _Data

    x86 = benchjson.write(tmp_path / "x86.json", benchjson.make_run(models=("deeplab_scenes",)))
    arm = benchjson.write(tmp_path / "arm.json", benchjson.make_run(models=("deeplab_scenes",), eval_limit=20, **ARM))
    runs = load_runs([x86, arm])
    table = model_table("deeplab_scenes", runs)
    column = table.headers.index("Eval samples")
    assert {(row[0], row[column]) for row in table.rows} == {(runs[0].label, "60"), (runs[1].label, "20")}
    data = _Data("deeplab_scenes", [(r, list(r.cases.values())) for r in runs])
    assert data.comparable == list(runs[0].cases.values())
    assert data.pooled_note == f"60 eval samples; left out, scored on fewer: {runs[1].label}"
    assert data.run_title(runs[1]) == f"{runs[1].label} (quality on 20 samples)"
    one = _Data("deeplab_scenes", [(runs[0], list(runs[0].cases.values()))])
    assert one.run_title(runs[0]) == runs[0].label and one.pooled_note == "60 eval samples"
    result = write_report([x86, arm], tmp_path / "report")
    assert "Eval samples" in result.markdown
    for case in runs[0].cases.values():  # a run that does not say how many samples it scored is kept, unlabelled
        case.info.pop("eval_samples")
    data = _Data("deeplab_scenes", [(r, list(r.cases.values())) for r in runs])
    assert len(data.comparable) == len(data.cases) and data.pooled_note == "20 eval samples"
    assert data.run_title(runs[0]) == runs[0].label
    for png in result.figures:
        assert_real_png(png)


def test_fidelity_runs_get_snr_columns_and_figures(tmp_path):
    run = benchjson.write(tmp_path / "fid.json", benchjson.make_run(models=("face_detector", "mnist_cnn"), devices=("xnnpack", "builtin")))
    result = write_report([run], tmp_path / "report")
    section = result.markdown.split("## face_detector (fidelity)")[1]
    header = section.strip().splitlines()[0]
    assert "SNR (dB)" in header and "Cosine" in header and "Accuracy" not in header
    int8 = next(line for line in section.splitlines() if "| int8 " in line and "xnnpack" in line)
    assert "31.5" in int8 and "yes" in int8  # the SNR, and the budget it met
    figures = {p.name for p in result.figures}
    assert {"face_detector-snr.png", "face_detector-tradeoff-size-snr.png", "face_detector-latency.png"} <= figures
    assert "face_detector-accuracy.png" not in figures and "mnist_cnn-accuracy.png" in figures


def test_a_negative_snr_is_a_measurement_not_damage(tmp_path):
    """A mode whose error outweighs the signal scores below 0 dB (ORT's dynamic int8 of MediaPipe's face detector:
    -2.8 dB); the run loads and reports it, as it loads any other score."""
    doc = benchjson.make_run(models=("face_detector",), devices=("xnnpack",))
    bench = next(b for b in doc["benchmarks"] if b["extra_info"]["mode"] == "int8")
    bench["extra_info"].update(snr_db=-2.8, cosine=-0.1, within_budget=False)
    run = load_run(benchjson.write(tmp_path / "run.json", doc))
    case = run.cases[("face_detector", "int8", "xnnpack")]
    assert case.quality["snr_db"] == -2.8 and case.quality["cosine"] == -0.1
    bench["extra_info"]["model_bytes"] = -1  # sizes, latencies and the rest stay non-negative
    with pytest.raises(QbenchError, match="model_bytes is not a non-negative number"):
        load_run(benchjson.write(tmp_path / "bad.json", doc))
