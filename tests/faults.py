"""Faults on demand, for the tests of what a bad build costs (tests/integration/test_isolation.py).

A conftest imports this module; it registers the ``fault`` backend, whose modes start from the float32 .tflite and
each misbehave in one way when they build: ``fault-segv`` kills its process with SIGSEGV the first time (a native
crash; later builds succeed, as a second run must), ``fault-enospc`` runs out of disk space, ``fault-sleep`` writes
its pid and sleeps (a long build to kill the run under), ``fault-zero-scale`` stores a quantization scale of 0
for one channel whose weights are zero (the file ai-edge-quantizer's int4 blocks wrote for MediaPipe's hand
landmark model: XNNPACK refuses it, the built-in kernels compute the same outputs as float32). The warm-up
workers import it too (``qbench.registry.extension_modules``). ``QBENCH_FAULTS`` names the folder its marks go
to.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

from qbench.modes import MODES, REFERENCE_MODE, Contract, Mode, Storage
from qbench.quantizers.base import BACKENDS, Backend

CONTRACT = Contract("int8", granularity="per-channel")  # what the toy model (zero_channel_dense) holds
for _id, _what in (("fault-segv", "a native crash, once"), ("fault-enospc", "a full disk"),
                   ("fault-sleep", "a build that takes forever"), ("fault-zero-scale", "a scale of 0")):
    MODES.register(Mode(_id, f"float32 rewritten, with {_what} (tests/faults.py)", "fault", _id, False, "8bit",
                        Storage(), CONTRACT))


def _marks() -> Path:
    return Path(os.environ["QBENCH_FAULTS"])


@BACKENDS.register
class Faults(Backend):
    id = "fault"
    description = "faults on demand (tests/faults.py)"

    def starts_from(self, mode) -> str:
        return REFERENCE_MODE

    def check(self, inputs, mode) -> None:
        pass

    def key(self, inputs, mode) -> dict:
        return {"backend": self.id, "mode": mode.id, "float32": inputs.float32().sha256}

    def build(self, inputs, mode, path) -> dict:
        data = inputs.float32().path.read_bytes()
        if mode.id == "fault-segv" and not (_marks() / "crashed").exists():
            (_marks() / "crashed").write_text(str(os.getpid()))
            print("faults: about to crash", flush=True)  # noqa: T201 - the worker log's last words
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode.id == "fault-enospc":
            path.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        if mode.id == "fault-sleep":
            (_marks() / "sleeping").write_text(str(os.getpid()))
            time.sleep(600)
        if mode.id == "fault-zero-scale":
            data = zero_scale(data)
        path.write_bytes(data)
        return {}


def zero_scale(data: bytes) -> bytes:
    """The model with channel 1 of its int8 weight scale set to 0 (its weights there are 0 too)."""
    from qbench.tflite_file import rewrite

    def edit(model) -> None:
        for tensor in model.subgraphs[0].tensors:
            q = tensor.quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:
                q.scale[1] = 0.0

    return rewrite(data, edit)
