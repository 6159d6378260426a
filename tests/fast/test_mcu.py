"""The MCU verdicts on synthetic results: smallest within budget that fits, per class; the report's tables and figure."""

from dataclasses import dataclass, field

import pytest

from qbench import mcu

M0, M4, M7, S3 = mcu.MCU_CLASSES


@dataclass
class Case:
    mode: str
    arena: int
    flash: int
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.info = {"footprint": {"arena_bytes": self.arena, "flash_bytes": self.flash}}


def test_classes_are_the_documented_ones():
    assert [(c.name, c.sram_bytes // 1024, c.flash_bytes // 1024, c.psram_bytes // 1024) for c in mcu.MCU_CLASSES] == [
        ("Cortex-M0+", 32, 256, 0), ("Cortex-M4", 256, 1024, 0), ("Cortex-M7", 512, 2048, 0),
        ("ESP32-S3", 512, 8192, 8192)]


def test_fits_needs_both_arena_in_ram_and_file_in_flash():
    assert M0.fits({"arena_bytes": 32 * 1024, "flash_bytes": 256 * 1024})
    assert not M0.fits({"arena_bytes": 32 * 1024 + 1, "flash_bytes": 1})
    assert not M0.fits({"arena_bytes": 1, "flash_bytes": 256 * 1024 + 1})
    assert S3.fits({"arena_bytes": 5_028_400, "flash_bytes": 348_144}) and not M7.fits(
        {"arena_bytes": 5_028_400, "flash_bytes": 348_144})  # deeplab_scenes int8: only with PSRAM
    assert M7.why_not({"arena_bytes": 5_028_400, "flash_bytes": 3 << 20}) == "arena 4.8 MB > 512 KB RAM, flash 3 MB > 2 MB"


def test_the_smallest_within_budget_that_fits_each_class():
    float32, int8, io, wide, over = (Case("float32", 43_136, 85_372), Case("int8", 13_128, 25_376),
                                     Case("int8-float-io", 13_064, 25_360), Case("int16x8", 300_000, 25_824),
                                     Case("aeq-weight-int8", 1_000, 1_000))
    cases = [float32, int8, io, wide, over]
    fits = mcu.verdicts(cases, [float32, int8, io, wide], {})  # the tiny one is over budget: never picked
    assert [f.mode for f in fits] == ["int8-float-io"] * 4
    assert fits[0].fitting == ("int8-float-io", "int8")  # float32's 43 KB arena is over the M0+'s 32 KB
    assert fits[2].fitting == ("int8-float-io", "int8", "float32", "int16x8")
    assert mcu.describe(fits[0]) == "int8-float-io (12.8 KB arena + 24.8 KB flash)"
    only_big = mcu.verdicts(cases, [wide], {})
    assert [f.mode for f in only_big] == [None, None, "int16x8", "int16x8"]
    assert mcu.describe(only_big[0]) == "none fits (smallest within budget, int16x8: arena 293 KB > 32 KB RAM)"
    assert mcu.describe(mcu.verdicts(cases, [], {})[0]) == "nothing within budget measured"


def test_equal_memory_goes_to_the_better_quality():
    a, b = Case("a", 100, 100), Case("b", 150, 50)
    assert mcu.verdicts([a, b], [a, b], {"a": 0.9, "b": 0.95})[0].mode == "b"


def test_psram_is_named_when_the_arena_needs_it():
    big = Case("int8", 5_028_400, 348_144)
    fit = mcu.verdicts([big], [big], {})[3]
    assert mcu.describe(fit) == "int8 (4.8 MB arena in PSRAM + 340 KB flash)"


@pytest.mark.parametrize("info", [{}, {"footprint": None}, {"footprint": {"arena_bytes": "12"}}])
def test_results_without_a_usable_footprint_are_left_out(info):
    assert mcu.footprint(info) is None


FOOTPRINT = {"float32": (43_136, 85_372), "int8": (13_128, 25_376), "int8-float-io": (13_064, 25_360),
             "int16x8": (23_208, 25_824)}


def _tflm_run():
    """A synthetic run whose ``reference`` results also ran on ``tflm`` (MNIST's measured footprints), dynamic and
    float16 skipped there as TFLM refuses them."""
    import copy

    import benchjson

    run = benchjson.make_run(devices=("reference",))
    extra = []
    for b in run["benchmarks"]:
        mode = b["extra_info"]["mode"]
        if mode in FOOTPRINT:
            t = copy.deepcopy(b)
            t["name"] = t["name"].replace("-reference]", "-tflm]")
            t["extra_info"].update(device="tflm", latency_note="host-only: not an MCU's latency",
                                   footprint={"arena_bytes": FOOTPRINT[mode][0], "flash_bytes": FOOTPRINT[mode][1],
                                              "arena_head_bytes": 10_000, "arena_tail_bytes": 3_000})
            t["extra_info"]["timing"]["group"] = "mnist_cnn@tflm@x86_64"
            extra.append(t)
    run["benchmarks"] += extra
    return run


def test_the_report_answers_per_mcu_class_and_draws_the_footprints(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import benchjson
    from qbench.report import write_report

    report = write_report([benchjson.write(tmp_path / "run.json", _tflm_run())], tmp_path / "report")
    text = report.markdown
    fits = text[text.index("## Microcontrollers: smallest within budget that fits"):]
    row = next(line for line in fits.splitlines() if line.startswith("| mnist_cnn"))
    assert "| tflm " in row and row.count("int8-float-io (12.8 KB arena + 24.8 KB flash)") == 4
    assert "## Microcontrollers: tensor arena and flash per mode" in text and "| 13,064 " in text
    assert "(host-only latency)" in text  # the recommendation's fastest on tflm is no MCU's
    assert any(p.name == "mnist_cnn-mcu-footprint.png" for p in report.figures)
    assert "Microcontrollers: smallest" in (tmp_path / "report" / "index.html").read_text()


def test_runs_without_footprints_get_no_mcu_tables_and_say_why_there_is_no_figure():
    from pathlib import Path

    import benchjson
    from qbench.report.figures import _footprint
    from qbench.report.load import parse_run
    from qbench.report.mcu import fits_table, footprint_table
    from qbench.report.plotting import _Data, _Skip

    run = parse_run(benchjson.make_run(), Path("plain.json"))
    assert fits_table([run]) is None and footprint_table([run]) is None
    with pytest.raises(_Skip, match=r"no result records a footprint \(run the tflm device\)"):
        _footprint(_Data("mnist_cnn", [(run, list(run.cases.values()))]))


def test_the_terminal_summary_names_the_fits_and_the_host_only_latency(tmp_path):
    from pathlib import Path

    from qbench.report.load import parse_run
    from qbench.report.summary import lines

    out = "\n".join(lines(parse_run(_tflm_run(), Path("run.json"))))
    tflm = out[out.index("qbench: mnist_cnn on tflm"):]
    assert "latency host-only: not an MCU's latency" in tflm
    assert ("smallest within budget that fits (arena + flash, model only): Cortex-M0+: int8-float-io (12.8 KB arena "
            "+ 24.8 KB flash)") in tflm
    assert "fits" not in out[:out.index("qbench: mnist_cnn on tflm")]  # the reference device has no footprint
