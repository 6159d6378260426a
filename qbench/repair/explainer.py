"""Per-layer explanations of a model x mode, cached like any other artifact (kind ``explain``).

The key is everything the table depends on: both models' bytes (sha256), the compared inputs, the device's kernels,
the comparison code and the LiteRT version. A warm lookup reads one small JSON file, so benchmark results can carry
the worst layers (``--qbench-explain``) without redoing the comparison. The explainer reads what it compares through
an ``ExplainInputs`` (the session's artifacts, or a bundle's: the run stage can explain too).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Protocol

from qbench.cache import code_digest, write_json_atomic
from qbench.data.base import digest_arrays
from qbench.repair import compare as compare_module
from qbench.repair import layers as layers_module
from qbench.repair import twins as twins_module
from qbench.repair.compare import DEFAULT_DEVICE, compare, resolver_for
from qbench.repair.layers import Explanation
from qbench.versions import installed

if TYPE_CHECKING:
    from qbench.cache import Artifact, Cache
    from qbench.data.base import EvalSet


class References(Protocol):
    def reference_bytes(self, mode_id: str) -> bytes:
        """The float model ``mode_id`` starts from (its backend says which)."""

SAMPLES = 8  # the first N evaluation samples (deterministic: the evaluation set's own order)


class ExplainInputs(Protocol):
    """What an explanation reads (``qbench.pipeline.artifacts.Artifacts`` has it)."""

    @property
    def cache(self) -> Cache: ...

    def tflite(self, model_id: str, mode_id: str) -> Artifact: ...

    def eval_set(self, model_id: str) -> EvalSet: ...

    def build_inputs(self, model_id: str) -> References: ...


def code() -> str:
    return code_digest(compare_module, twins_module, layers_module)


class Explainer:
    def __init__(self, inputs: ExplainInputs):
        self._inputs = inputs
        self._tables: dict[tuple, Explanation] = {}

    def samples(self, model_id: str, samples: int = SAMPLES):
        """The inputs explanations compare on: the first ``samples`` of the model's full evaluation set."""
        return self._inputs.eval_set(model_id).x[:samples]

    def reference(self, model_id: str, mode_id: str) -> bytes:
        """The float model ``mode_id`` starts from, whose tensors it is compared with (its backend says which: the
        float32 .tflite, normalized for ai-edge-quantizer)."""
        return self._inputs.build_inputs(model_id).reference_bytes(mode_id)

    def explanation(self, model_id: str, mode_id: str, device: str = DEFAULT_DEVICE,
                    samples: int = SAMPLES) -> Explanation:
        """The per-layer table of ``mode_id`` against float32 (from the cache, computed on a miss)."""
        resolver_for(device)  # refuse a delegate before building anything
        key = (model_id, mode_id, device, samples)
        if key not in self._tables:
            self._tables[key] = self._explain(model_id, mode_id, device, samples)
        return self._tables[key]

    def _explain(self, model_id: str, mode_id: str, device: str, samples: int) -> Explanation:
        artifact, reference = self._inputs.tflite(model_id, mode_id), self.reference(model_id, mode_id)
        inputs = self.samples(model_id, samples)
        reference_sha256 = hashlib.sha256(reference).hexdigest()
        parts = {"float32": reference_sha256, "quantized": artifact.sha256, "device": device,
                 "inputs": digest_arrays("explain", inputs), "code": code(), "litert": installed("ai-edge-litert")}

        def build(path) -> dict:
            table = compare(reference, artifact.path, inputs, device, model=model_id, mode=mode_id,
                            float_sha256=reference_sha256, quantized_sha256=artifact.sha256)
            write_json_atomic(path, table.to_dict())
            return {"model": model_id, "mode": mode_id, "device": device, "samples": len(inputs)}

        entry = self._inputs.cache.get_or_build("explain", parts, "explain.json", build,
                                                label=f"{model_id} {mode_id} per-layer explanation")
        return Explanation.from_dict(json.loads(entry.path.read_text(encoding="utf-8")))
