"""The report's recommendation (``qbench.report.recommend`` on ``qbench.verdict``) on synthetic runs: which mode to
ship per model, machine and device, ties and dominance judged on the runs' interleaved passes."""

from __future__ import annotations

import copy

import numpy as np

import benchjson
from qbench import verdict
from qbench.report import write_report
from qbench.report.load import parse_run
from qbench.report.recommend import quality, recommendation_table


def test_report_opens_with_the_recommendation_per_machine_and_device(tmp_path):
    doc = benchjson.make_run(models=("mnist_cnn", "deeplab_scenes"), devices=("xnnpack", "builtin"))
    for bench in doc["benchmarks"]:  # int8 (the fastest) misses the budget on mnist_cnn / xnnpack
        info = bench["extra_info"]
        if (info["model"], info["mode"], info["device"]) == ("mnist_cnn", "int8", "xnnpack"):
            info["within_budget"] = False
    path = benchjson.write(tmp_path / "run.json", doc)
    table = recommendation_table([parse_run(doc, path)])
    rows = {(r[0], r[2]): r for r in table.rows}
    assert len(rows) == 4 and table.headers[4:6] == ["Fastest within budget", "Smallest within budget"]
    # builtin: int8 (0.50x) and int8-float-io (0.55x) are 10 % apart, inside the margin: a tie, which the file of
    # equal size and better accuracy wins; xnnpack: int8 misses the budget, int8-float-io is the fastest left
    assert rows["mnist_cnn", "builtin"][4].startswith("int8-float-io (") and "tied with int8" in rows["mnist_cnn",
                                                                                                      "builtin"][4]
    assert rows["mnist_cnn", "xnnpack"][4].startswith("int8-float-io (")
    assert rows["mnist_cnn", "xnnpack"][5].startswith("dynamic (")  # 0.27 of float32, the smallest
    assert rows["mnist_cnn", "xnnpack"][3] == "accuracy >= float32 - 0.005"
    assert "int8 (over budget)" in rows["mnist_cnn", "xnnpack"][6]
    result = write_report([path], tmp_path / "report")
    assert result.markdown.startswith("## Recommendation: which mode to ship")
    index = result.index.read_text()
    assert index.index("Recommendation") < index.index("<h2>Runs</h2>")


def test_pareto_set_drops_exactly_the_dominated_modes(tmp_path):
    """A mode is dominated by one at least as small, as good and not slower, and better in one of them; slower
    means confidently slower by more than the margin (qbench.verdict), so a 5 %-faster sample dominates nothing."""
    doc = benchjson.make_run(models=("mnist_cnn",), devices=("xnnpack",))
    cases = list(parse_run(doc, tmp_path / "run.json").cases.values())
    scores = {c.mode: quality(c) for c in cases}
    front = verdict.pareto(cases, scores)

    def dominates(o, c):
        no_worse = o.model_bytes <= c.model_bytes and scores[o.mode] >= scores[c.mode] and verdict.as_fast(o, c)
        return no_worse and (o.model_bytes < c.model_bytes or scores[o.mode] > scores[c.mode] or verdict.slower(c, o))

    for c in cases:
        assert (c in front) != any(dominates(o, c) for o in cases if o is not c), c.mode
    assert [c.model_bytes for c in front] == sorted(c.model_bytes for c in front)
    # float16 is as good as float32 and half its size; float32 is 5 % faster (1 / 1.05), a tie within the margin,
    # so float32 is dominated (by medians alone its speed would have kept it on the front)
    assert "float32" not in {c.mode for c in front} and {"float16", "int8", "dynamic"} <= {c.mode for c in front}


def test_a_budget_mode_that_kept_nothing_is_recommended_under_its_lossy_modes_name(tmp_path):
    doc = benchjson.make_run(models=("mnist_cnn",), devices=("xnnpack",))
    int8 = next(b for b in doc["benchmarks"] if b["extra_info"]["mode"] == "int8")
    int8["extra_info"]["model_sha256"] = "a" * 64
    twin = copy.deepcopy(int8)
    twin["name"] = twin["name"].replace("int8", "int8+budget")
    twin["extra_info"]["mode"] = "int8+budget"
    for holder, key in ((twin["stats"], "median"), (twin["extra_info"], "latency_median_s")):
        holder[key] /= 2  # the same file, a luckier latency sample
    doc["benchmarks"].append(twin)
    rows = recommendation_table([parse_run(doc, tmp_path / "run.json")]).rows
    assert "+budget" not in " ".join(rows[0]) and "int8" in rows[0][6]
    twin["extra_info"]["model_sha256"] = "another file: layers were kept"
    rows = recommendation_table([parse_run(doc, tmp_path / "run.json")]).rows
    assert "int8+budget" in " ".join(rows[0])


def _as_ort(bench: dict, mode: str, device: str, factor: float) -> dict:
    """A copy of a LiteRT case as an ONNX Runtime case timed in the same passes, ``factor`` times as slow."""
    ort = copy.deepcopy(bench)
    info = ort["extra_info"]
    info.update(mode=mode, device=device, backend={"runtime": "onnxruntime", "kernels": "cpu", "threads": 1})
    info["within_budget"] = None if mode == "ort-float32" else True
    info["timing"]["pass_medians_s"] = [t * factor for t in info["timing"]["pass_medians_s"]]
    rng = np.random.default_rng(len(mode))
    benchjson.set_samples(ort, info["latency_median_s"] * factor * rng.lognormal(0.0, 0.04, 30), keep_data=False)
    ort["name"] = ort["fullname"] = f"test_invoke[{info['model']}-{mode}-{device}]"
    ort["param"] = ort["params"]["case"] = f"{info['model']}-{mode}-{device}"
    return ort


def test_another_frameworks_device_is_answered_on_its_own_and_beside_its_litert_peer(tmp_path):
    """ort-cpu names xnnpack its peer: its cases are ranked with xnnpack's (as mode@device, ratios to LiteRT float32
    from the shared passes), and answered again against ort-float32 alone."""
    doc = benchjson.make_run(models=("mnist_cnn",), devices=("xnnpack",))
    by_mode = {b["extra_info"]["mode"]: b for b in doc["benchmarks"]}
    doc["benchmarks"] += [_as_ort(by_mode["float32"], "ort-float32", "ort-cpu", 2.0),
                          _as_ort(by_mode["int8"], "ort-int8", "ort-cpu", 0.5)]  # int8 at 0.55 -> 0.275x float32
    path = benchjson.write(tmp_path / "run.json", doc)
    rows = {r[2]: r for r in recommendation_table([parse_run(doc, path)]).rows}
    assert set(rows) == {"xnnpack", "ort-cpu"}
    assert rows["xnnpack"][4].startswith("ort-int8@ort-cpu (0.2") and "x float32 latency [" in rows["xnnpack"][4]
    assert rows["ort-cpu"][4].startswith("ort-int8 (0.1") and "x ort-float32 latency [" in rows["ort-cpu"][4]
    assert "ort-float32@ort-cpu" not in rows["xnnpack"][6]  # 2x slower than float32 and as large: dominated
