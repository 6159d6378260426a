"""Per-layer explanations of a model x mode, cached like any other artifact (kind ``explain``).

The key is everything the table depends on: both models' bytes (sha256), the compared inputs, the device's kernels,
the comparison code and the LiteRT version. A warm lookup reads one small JSON file, so benchmark results can carry
the worst layers (``--qbench-explain``) without redoing the comparison.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from qbench.cache import code_digest, write_json_atomic
from qbench.data.base import digest_arrays
from qbench.explain import compare as compare_module
from qbench.explain import layers as layers_module
from qbench.explain import twins as twins_module
from qbench.explain.compare import DEFAULT_DEVICE, compare, resolver_for
from qbench.explain.layers import Explanation
from qbench.versions import installed

if TYPE_CHECKING:
    from qbench.workspace import Workspace

SAMPLES = 8  # the first N evaluation samples (deterministic: the evaluation set's own order)
REFERENCE_MODE = "float32"


def float_model(ws: Workspace, model_id: str, mode_id: str) -> bytes:
    """The float model ``mode_id`` starts from, whose tensors it is compared with (its backend says which: the
    float32 .tflite, normalized for ai-edge-quantizer)."""
    return ws.float_reference(model_id, mode_id)


def samples_of(ws: Workspace, model_id: str, samples: int = SAMPLES):
    """The inputs explanations compare on: the first ``samples`` of the model's full evaluation set."""
    return ws.eval_set(model_id).x[:samples]


def code() -> str:
    return code_digest(compare_module, twins_module, layers_module)


def explanation(ws: Workspace, model_id: str, mode_id: str, device: str = DEFAULT_DEVICE,
                samples: int = SAMPLES) -> Explanation:
    """The per-layer table of ``mode_id`` against float32 (from the cache, computed on a miss)."""
    resolver_for(device)  # refuse a delegate before building anything

    def make() -> Explanation:
        artifact, reference = ws.tflite(model_id, mode_id), float_model(ws, model_id, mode_id)
        inputs = samples_of(ws, model_id, samples)
        reference_sha256 = hashlib.sha256(reference).hexdigest()
        parts = {"float32": reference_sha256, "quantized": artifact.sha256, "device": device,
                 "inputs": digest_arrays("explain", inputs), "code": code(),
                 "litert": installed("ai-edge-litert")}

        def build(path) -> dict:
            table = compare(reference, artifact.path, inputs, device, model=model_id, mode=mode_id,
                            float_sha256=reference_sha256, quantized_sha256=artifact.sha256)
            write_json_atomic(path, table.to_dict())
            return {"model": model_id, "mode": mode_id, "device": device, "samples": len(inputs)}

        entry = ws.cache.get_or_build("explain", parts, "explain.json", build,
                                      label=f"{model_id} {mode_id} per-layer explanation")
        return Explanation.from_dict(json.loads(entry.path.read_text(encoding="utf-8")))

    return ws._once(("explain", model_id, mode_id, device, samples), make)

