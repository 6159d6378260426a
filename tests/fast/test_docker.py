"""Static checks of the Docker images, since no Docker engine runs here: each Dockerfile parses, installs
from the project's own pinned requirement files, keeps TensorFlow out of the run image, copies only files
that exist and reach the build context, and runs the benchmarks from a bundle by default."""

import fnmatch
import json
import shlex

import pytest

from paths import REPO
DOCKER = REPO / "docker"
BASE = "python:3.11-slim-bookworm"
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
RUN_PINS = ("-r requirements/run.txt", "-c requirements/constraints.txt")


def instructions(name: str) -> list[tuple[str, str]]:
    """(instruction, arguments) per logical line: comments and blank lines dropped, continuations joined."""
    parsed, pending = [], ""
    for raw in (DOCKER / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # Docker drops these inside continuations too
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        parsed.append((keyword, args.strip()))
        pending = ""
    assert not pending, f"{name} ends inside a line continuation"
    return parsed


def args_of(name: str, keyword: str) -> list[str]:
    return [args for kw, args in instructions(name) if kw == keyword]


def pip_installs(name: str) -> list[str]:
    return [args for args in args_of(name, "RUN") if "pip install" in args]


def exec_form(args: str) -> list[str]:
    command = json.loads(args)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), args
    return command


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops ``path`` or a folder above it (no ``!`` exceptions are used)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(p, pattern) for p in prefixes for pattern in patterns)


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("name", ["Dockerfile.run", "Dockerfile.build"])
def test_parses_from_the_pinned_base_and_copies_what_exists(name):
    parsed = instructions(name)
    assert parsed[0] == ("FROM", BASE), "FROM first, on the pinned multi-arch base (no --platform)"
    assert {kw for kw, _ in parsed} <= INSTRUCTIONS
    for args in args_of(name, "COPY"):
        *sources, _ = [a for a in shlex.split(args) if not a.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"{name} copies {source}, which does not exist"
            assert not ignored(source, dockerignore()), f"{name} copies {source}, which .dockerignore drops"
    assert any(all(pin in args for pin in RUN_PINS) for args in pip_installs(name))


def test_run_image_installs_the_run_stage_only():
    installs = pip_installs("Dockerfile.run")
    assert all("tensorflow" not in args.lower() and "build.txt" not in args for args in installs)
    assert "requirements/build.txt" not in (DOCKER / "Dockerfile.run").read_text()
    assert any("--no-deps" in args for args in installs), "qbench itself without dependencies"
    copied = " ".join(args_of("Dockerfile.run", "COPY"))
    for needed in ("qbench/", "benchmarks/", "conftest.py", "pytest.ini", "pyproject.toml"):
        assert needed in copied


def test_run_image_measures_a_mounted_bundle_by_default():
    (cmd,) = args_of("Dockerfile.run", "CMD")
    command = exec_form(cmd)
    assert command[:2] == ["pytest", "benchmarks/"]
    assert command[command.index("--qbench-bundle") + 1] == "/bundle"
    assert command[command.index("--benchmark-json") + 1].startswith("/results/")


def test_build_image_installs_both_stages_and_writes_a_bundle():
    assert any("-r requirements/build.txt" in args for args in pip_installs("Dockerfile.build"))
    assert any("-r requirements/qat.txt" in args and "--no-deps" in args and "-c requirements/constraints.txt" in args
               for args in pip_installs("Dockerfile.build")), "the qat-* modes' tf-keras and tfmot"
    assert "qat.txt" not in (DOCKER / "Dockerfile.run").read_text()
    (cmd,) = args_of("Dockerfile.build", "CMD")
    command = exec_form(cmd)
    assert command[:2] == ["qbench", "build"] and "--out" in command


def test_dockerignore_keeps_local_state_out_of_the_context():
    for entry in (".venv", ".git", ".benchmarks", ".hypothesis", ".pytest_cache", "bundle", "results"):
        assert ignored(entry, dockerignore()), entry
