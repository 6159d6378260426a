"""Cheap static checks of scripts/arm64-emu (no download, no emulation, no mounts).

The end-to-end run (provision + emulated LiteRT) takes minutes and needs the
network, so it is not part of the unit suite; these only guard against syntax
errors and cache-key regressions (shellcheck runs over every script in test_run_script.py).
"""

import os
import shutil
import subprocess

from paths import REPO
SCRIPT = REPO / "scripts" / "arm64-emu"


def _run(args, cache_dir, script=SCRIPT):
    env = dict(os.environ, QBENCH_CACHE_DIR=str(cache_dir))
    env.pop("QBENCH_QEMU_AARCH64", None)
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _key(info_stdout):
    line = next(l for l in info_stdout.splitlines() if l.startswith("key:"))
    return line.split()[1]


def test_script_is_executable_bash():
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_help_and_bad_usage(tmp_path):
    assert _run(["--help"], tmp_path).returncode == 0
    assert _run(["frobnicate"], tmp_path).returncode == 2
    # `run` without a command fails before provisioning anything
    r = _run(["run", "--"], tmp_path)
    assert r.returncode != 0 and "usage" in r.stderr
    assert not (tmp_path / "arm64").exists()


def test_clean_on_empty_cache(tmp_path):
    assert _run(["clean", "--all"], tmp_path).returncode == 0


def test_cache_key_follows_requirements(tmp_path):
    # a copy of the script in a fake repo: the key hashes contents, not paths
    fake = tmp_path / "repo"
    (fake / "scripts").mkdir(parents=True)
    shutil.copytree(REPO / "requirements", fake / "requirements")
    shutil.copy2(SCRIPT, fake / "scripts" / "arm64-emu")
    cache = tmp_path / "cache"

    r1 = _run(["info"], cache, fake / "scripts" / "arm64-emu")
    assert r1.returncode == 0, r1.stderr
    assert _key(r1.stdout) == _key(_run(["info"], cache).stdout)
    assert "not provisioned" in r1.stdout

    with open(fake / "requirements" / "constraints.txt", "a") as f:
        f.write("# changed\n")
    r2 = _run(["info"], cache, fake / "scripts" / "arm64-emu")
    assert _key(r2.stdout) != _key(r1.stdout)
