"""Tool versions and host facts, read without importing the tools (TensorFlow costs ~4 s to import)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import qbench

BUILD_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy")
RUN_PACKAGES = ("ai-edge-litert", "numpy", "tflite-micro")


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    return {n: v for n in names if (v := installed(n)) is not None}


def build_versions() -> dict[str, str]:
    """What shapes a converted model's bytes; part of every build artifact's cache key."""
    return {"python": platform.python_version(), **package_versions(BUILD_PACKAGES)}


def run_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "qbench": qbench.__version__, **package_versions(RUN_PACKAGES)}


def emulated() -> str | bool:
    """The emulator's name when the run stage runs under one (set by scripts/arm64-emu), else False."""
    return os.environ.get("QBENCH_EMULATED") or False
