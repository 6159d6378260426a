"""The qbench command line: listing, building, and errors as one line plus a fix."""

from qbench import cli


def test_list_names_every_axis(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("mnist_cnn", "int16x8", "int8-float-io", "xnnpack-mt", "reference"):
        assert word in out


def test_build_reports_cached_artifacts(capsys, qbench):
    assert cli.main(["build", "--models", "mnist_cnn", "--modes", "int8", "--cache", str(qbench.cache.root)]) == 0
    out = capsys.readouterr().out
    assert "mnist_cnn-int8.tflite" in out and str(qbench.artifacts.tflite("mnist_cnn", "int8").bytes) in out


def test_unknown_mode_is_an_error_not_a_traceback(capsys, tmp_path):
    assert cli.main(["build", "--modes", "int9", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown modes id(s): int9" in err and "float16" in err


def test_unwritable_cache(capsys, tmp_path):
    (tmp_path / "f").write_text("")
    assert cli.main(["build", "--cache", str(tmp_path / "f" / "c")]) == 2
    assert "not writable" in capsys.readouterr().err
