"""Evaluation results as cached artifacts: a warm run reuses them instead of running the evaluation sets again.

A model's outputs are a deterministic function of what determines them, so that is the key: the artifact's sha256,
the runtime and its version, what actually ran (``Runner.computation``: kernels, XNNPACK partitions, threads), the
machine's architecture and the CPU features XNNPACK dispatches on (``machine.ISA_FLAGS``), the evaluation data's
digest and the eval limit, the scoring code, and for a quantized mode the float32 evaluation it is scored against.
Change any of them and the evaluation runs again; ``--qbench-reevaluate`` forces it.

An entry is one ``.npz``: the result (the quality numbers and the output digests ``qbench consistency`` compares) as
JSON, and for float32 the predictions every other mode's agreement and fidelity are scored against. Results served
from the cache say so (``eval_cached``) and when and where they were computed (``evaluated_at``, ``evaluated_on``).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from qbench import machine
from qbench.cache import Artifact, code_digest
from qbench.measure import Evaluation
from qbench.versions import installed

SCHEMA = 1
FILENAME = "evaluation.npz"


def data_digest(x: np.ndarray, y: np.ndarray | None) -> str:
    """xxh3-128 of the evaluation inputs and labels (identity, not security: 100 MB hash in ~20 ms)."""
    h = xxhash.xxh3_128()
    for a in (x, y):
        if a is not None:
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return h.hexdigest()


def scoring_digest(task) -> str:
    """The code that turns outputs into numbers: the task's module, the task registry's package (every module in
    it), the metrics, the measuring loop."""
    from qbench import measure, metrics, tasks

    return code_digest(sys.modules[type(task).__module__], tasks, metrics, measure)


def machine_identity() -> dict[str, Any]:
    facts = machine.describe()
    return {"arch": facts["arch"], "isa_flags": facts["isa_flags"], "emulated": bool(facts["emulated"]),
            "emulated_cpu": facts["emulated_cpu"]}


def key(artifact: Artifact, computation: tuple, data: str, eval_limit: int | None, task, reference: str | None
        ) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "model_sha256": artifact.sha256,
        "computation": [str(c) for c in computation],
        "runtime": {"ai-edge-litert": installed("ai-edge-litert"), "numpy": installed("numpy")},
        "machine": machine_identity(),
        "data": data,
        "eval_limit": eval_limit,
        "task": task.id,
        "scoring": scoring_digest(task),
        "reference": reference,
    }


def write(path: Path, evaluation: Evaluation) -> dict[str, Any]:
    """Store ``evaluation`` at ``path``; returns the manifest facts (who computed it)."""
    arrays = {}
    if evaluation.predictions is not None:
        parts = evaluation.predictions if isinstance(evaluation.predictions, tuple) else (evaluation.predictions,)
        arrays = {f"prediction_{i}": np.asarray(p) for i, p in enumerate(parts)}
        arrays["prediction_tuple"] = np.array(isinstance(evaluation.predictions, tuple))
    with open(path, "wb") as f:
        np.savez(f, result=np.array(json.dumps(evaluation.result, default=_plain)), **arrays)
    facts = machine.describe()
    return {"evaluated_on": f"{platform.node()} ({facts['arch']} {facts['cpu_model']})".strip()}


def read(artifact: Artifact, fresh: bool) -> Evaluation:
    """The stored evaluation; ``fresh``: computed by this process just now (else it came from the cache)."""
    with np.load(artifact.path, allow_pickle=False) as npz:
        result = json.loads(str(npz["result"]))
        parts = [npz[f"prediction_{i}"] for i in range(sum(k.startswith("prediction_") and k[11:].isdigit()
                                                           for k in npz.files))]
        predictions = (tuple(parts) if bool(npz["prediction_tuple"]) else parts[0]) if parts else None
    result.update(eval_cached=not fresh, evaluated_at=artifact.manifest.get("created"),
                  evaluated_on=artifact.manifest.get("evaluated_on"))
    return Evaluation(result, predictions)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
