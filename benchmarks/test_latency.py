"""invoke() latency per model x mode x device, timed in interleaved passes (``qbench.timing``).

What is timed: only ``Runner.invoke()`` on one real evaluation sample (batch 1) already set as input:
``Interpreter.invoke()``, or for the CompiledModel devices ``run_by_index(0, inputs, outputs)`` on
TensorBuffers written beforehand. Loading, allocation or compilation, input quantization and output
reading happen outside the timed call. The modes of one model on one device are timed together, pass after pass
in shuffled order, so that a drifting CPU slows them alike; each case's rounds become its pytest-benchmark
statistics, and ``extra_info`` carries the passes (``timing``) and the ratio to float32 with its 95 % interval
(``latency_ratio``). Load + allocate (or compile) time and the first (cold) invoke go to ``extra_info`` as ``init_s``
and ``first_invoke_s``; so do p90/p99 of the per-invoke times and the process's peak RSS while the case's own model
was loaded and invoked. A device that knows what memory its target needs adds ``footprint`` (``Runner.footprint``:
``tflm``'s tensor arena and flash bytes), and one whose timings are not its target's says so (``latency_note``:
``tflm``'s are host-only).
"""

import time

from qbench.measure import latency_percentiles, peak_rss_bytes, reset_peak_rss
from qbench.timing import budget_of, record

STEADY_INVOKES = 5  # after the first: what the peak RSS covers besides loading


def test_invoke(benchmark, qbench, qbench_timing, qbench_model, qbench_mode, qbench_device):
    sample = qbench_timing.sample(qbench_model)
    info = qbench.results.info(qbench_model, qbench_mode, qbench_device)  # builds/evaluates outside the peak
    peak_reset = reset_peak_rss()
    with qbench.evaluator.runner(qbench_model, qbench_mode, qbench_device) as runner:
        runner.set_input(sample)
        start = time.perf_counter()
        runner.invoke()
        first_invoke_s = time.perf_counter() - start
        for _ in range(STEADY_INVOKES):
            runner.invoke()
        benchmark.group = f"{qbench_model} on {qbench_device}"
        benchmark.extra_info.update(info, init_s=runner.init_s, first_invoke_s=first_invoke_s, backend=runner.backend,
                                    peak_rss_bytes=peak_rss_bytes(),
                                    peak_rss_scope="benchmark" if peak_reset else "process")
        if (footprint := runner.footprint()) is not None:
            benchmark.extra_info["footprint"] = footprint
        if runner.device.latency_note:
            benchmark.extra_info["latency_note"] = runner.device.latency_note
        if benchmark.disabled:  # --benchmark-disable, or under xdist: one call, as pytest-benchmark does then
            benchmark(runner.invoke)
            return
    timed = qbench_timing.case(qbench_model, qbench_mode, qbench_device, budget_of(benchmark, qbench_timing.passes))
    record(benchmark, timed.case)
    benchmark.extra_info.update(timed.info(), **latency_percentiles(benchmark.stats.stats.data))
    benchmark.extra_info["fps"] = 1.0 / benchmark.extra_info["latency_median_s"]
