"""Score a Runner on an EvalSet with its task, and the latency and memory statistics of a benchmark."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xxhash

from qbench.data.base import EvalSet
from qbench.runtime import Runner
from qbench.tasks.base import Task


OUTPUT_SAMPLE_VALUES = 64  # raw output values kept per result for cross-machine comparison


def predict(runner: Runner, data: EvalSet, task: Task, batch_size: int) -> tuple[Any, dict[str, Any]]:
    """The task's predictions for the whole set, in batches, plus facts about the run.

    The facts include a digest of all raw outputs, a digest of the predictions and a small fixed sample of raw
    output values, so that two machines or devices can be compared bit for bit without shipping outputs.
    The raw outputs are hashed with xxh3-128, not sha256: a segmentation eval set is 600 MB of float logits,
    which sha256 hashes in ~7 ms per frame here and xxh3 in ~0.5 ms; the digest only has to tell identical from
    different outputs, not resist an adversary.
    """
    outputs = xxhash.xxh3_128()
    sample: list[np.ndarray] = []
    info = runner.outputs

    def reduce(raw: list[np.ndarray]):
        for array in raw:
            outputs.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        if not sample:  # a strided slice of the first sample's first output (independent of the batch size)
            flat = raw[0][0].reshape(-1)
            sample.append(flat[:: max(1, flat.size // OUTPUT_SAMPLE_VALUES)][:OUTPUT_SAMPLE_VALUES].copy())
        return task.reduce(raw, info)

    start = time.perf_counter()
    predicted = task.combine(runner.map_batches(data.x, reduce, batch_size))
    elapsed = time.perf_counter() - start
    labels = predicted[0] if isinstance(predicted, tuple) else predicted  # e.g. top-1 classes, not their scores
    digest = hashlib.sha256(np.ascontiguousarray(labels).tobytes())
    return predicted, {
        "eval_samples": len(data.x),
        "eval_seconds": elapsed,
        "eval_fps": len(data.x) / elapsed if elapsed > 0 else float("inf"),
        "predictions_sha256": digest.hexdigest(),
        "outputs_xxh3_128": outputs.hexdigest(),
        "output_dtype": np.dtype(info[0].dtype).name,
        "output_sample": sample[0].tolist(),
    }


@dataclass(frozen=True)
class Evaluation:
    result: dict[str, Any]  # what goes into extra_info
    predictions: Any  # the task's predictions (the reference for other modes' agreement and fidelity)
    key: str | None = None  # its cache key, when it is a cached artifact (a quantized mode's key names float32's)


def evaluate(runner: Runner, data: EvalSet, task: Task, batch_size: int, reference: Any = None) -> Evaluation:
    """Predict the whole set and score it; ``reference``: float32's predictions on the same device."""
    predicted, facts = predict(runner, data, task, batch_size)
    return Evaluation({**facts, **task.score(predicted, data, reference, runner.outputs)}, predicted)


def latency_percentiles(per_invoke_seconds: list[float]) -> dict[str, float]:
    """MLPerf reports p90; pytest-benchmark's stats stop at quartiles."""
    data = np.asarray(per_invoke_seconds, dtype=np.float64)
    p50, p90, p99 = np.percentile(data, [50, 90, 99])
    return {"latency_median_s": float(p50), "latency_p90_s": float(p90), "latency_p99_s": float(p99)}


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (VmHWM) so the next reading is this benchmark's own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident memory of this process since the last reset (whole process: data + interpreter)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
