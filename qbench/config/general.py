"""The general options of a run (``qbench.config`` gathers them with every dataset kind's and model's)."""

from __future__ import annotations


from qbench.errors import QbenchError
from qbench.config.options import RUN, Option, positive_int

#: Options of the suite as a whole; models and datasets declare theirs in their own modules.
GENERAL: tuple[Option, ...] = (
    Option("models", "comma-separated model ids, or all (default: the built-in models and yours; see `qbench list`)",
           "IDS"),
    Option("modes", "comma-separated quantization mode ids, or all (default: the thesis's float32, dynamic, float16, "
           "int8)", "IDS"),
    Option("devices", "comma-separated device ids, or all (default: xnnpack, xnnpack-mt)", "IDS",
           stages=frozenset({RUN})),
    Option("cache", "artifact cache (default: $QBENCH_CACHE_DIR or ~/.cache/qbench)", "DIR"),
    Option("model", "add your own model (Keras, SavedModel, frozen graph or .tflite) with its data; repeatable; "
           "e.g. mine=model.keras,dataset=images:photos/ (README: Bring your own model)",
           "ID=PATH[,key=value...]", repeat=True),
    Option("eval-limit", "evaluate quality on the first N samples only (for emulated targets; default: all)", "N",
           parse=positive_int("--qbench-eval-limit"), stages=frozenset({RUN})),
    Option("samples", "after the run, write sample predictions per model and mode (thesis figures 5.7, "
           "5.13-5.16) as PNGs into DIR, using the first selected device", "DIR", stages=frozenset({RUN})),
    Option("bundle", "run from a bundle written by `qbench build --out DIR`: no cache, no TensorFlow", "DIR",
           stages=frozenset({RUN})),
    Option("retrain", "train the built-in models from scratch on this machine instead of using their shipped "
           "reference weights (README: Reference weights)", flag=True),
    Option("passes", "interleaved timing passes per group of cases (every mode of a model on a device, timed in "
           "alternation so drift hits them alike; README: What is measured; default 20)", "N",
           parse=lambda text: parse_passes(text), default=20, stages=frozenset({RUN})),
    Option("reevaluate", "evaluate quality afresh instead of reusing cached evaluation results (README: What is "
           "measured)", flag=True, stages=frozenset({RUN})),
    Option("store", "at the end, store the session's results in a results store: an SQLite path or sqlite:///FILE, "
           "or postgresql://USER@HOST/DB (see README: Results store)", "URL", stages=frozenset({RUN})),
    Option("explain", "results of quantized modes carry their worst layers against float32 (extra_info.explain; "
           "computed once per model x mode and cached: ~0.1 s per mode for MNIST, ~5 s for the scenes model here)",
           flag=True, stages=frozenset({RUN})),
    Option("budget-target", "the quality the +budget modes search for instead of their task's budget, in the task's "
           "terms: classification=DROP (largest accuracy drop, e.g. 0.002), segmentation=FRACTION (of float32's mIoU, "
           "e.g. 0.99), fidelity=DB (output SNR); comma-separated, or one number for every task",
           "TASK=VALUE,...", parse=lambda text: parse_targets(text)),
)


def parse_passes(text: str) -> int:
    """At least 6: with fewer, no ratio can have a 95 % interval (qbench.intervals)."""
    passes = positive_int("--qbench-passes")(text)
    if passes < 6:
        raise QbenchError(f"--qbench-passes {passes} is too few for a 95 % interval of a latency ratio",
                          "give 6 or more (default 10)")
    return passes


def parse_targets(text: str) -> dict[str, float]:
    """``segmentation=0.99,classification=0.002`` (or one number, ``*``) -> {task: value}."""
    from qbench import tasks

    targets = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        task, _, value = part.rpartition("=")
        task = task.strip() or "*"
        if task != "*" and task not in tasks.TASKS:
            raise QbenchError(f"--budget-target names an unknown task {task!r}", f"use {', '.join(tasks.TASKS)}")
        try:
            targets[task] = float(value)
        except ValueError:
            raise QbenchError(f"--budget-target {part!r}: {value!r} is not a number",
                              "give e.g. segmentation=0.99 or classification=0.002") from None
        for checked in tasks.TASKS.values() if task == "*" else [tasks.get(task)]:
            checked.check_target(targets[task])
    if not targets:
        raise QbenchError("--budget-target is empty", "give e.g. segmentation=0.99")
    return targets
