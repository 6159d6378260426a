"""One LiteRT ``Environment`` per process, shared by every CompiledModel, and LiteRT's quiet exit.

``CompiledModel.from_file`` without an environment creates a new one per model: it registers the CPU, GPU
and NPU accelerators again and prints their log each time. An application creates one and keeps it, so
qbench does too; its creation happens once, outside any runner's ``init_s``.

The TensorBuffer wrapper keeps a second, static environment of its own, created by the first
``TensorBuffer.write`` and destroyed by a C++ static destructor after Python has finished. So the
first write happens here, inside the capture, and at exit fd 2 is pointed at /dev/null for LiteRT's
farewell ("DestroyAccelerator ...") unless its log was asked for (``quiet``).
"""

from __future__ import annotations

import atexit
import gc
import os
from functools import cache

from qbench.runtime import quiet


@cache
def environment():
    import numpy as np
    from ai_edge_litert.compiled_model import Environment, TensorBuffer

    with quiet.captured("creating the LiteRT environment"):
        env = Environment.create()
        buffer = TensorBuffer.create_from_host_memory(np.zeros(16, np.float32))
        buffer.write(np.zeros(16, np.float32))  # creates the TensorBuffer wrapper's own environment
        buffer.destroy()
    return env


@atexit.register  # at import, so it runs after the handlers registered later (atexit is last-in, first-out)
def _release() -> None:
    if environment.cache_info().currsize == 0:  # LiteRT's CompiledModel side was never used
        return
    with quiet.captured("releasing the LiteRT environment"):
        environment.cache_clear()
        gc.collect()
    if not quiet.showing():
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
