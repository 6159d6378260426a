"""invoke() latency per model x mode x device.

What is timed: only ``Runner.invoke()`` on one real evaluation sample (batch 1) already set as input:
``Interpreter.invoke()``, or for the CompiledModel devices ``run_by_index(0, inputs, outputs)`` on
TensorBuffers written beforehand. Loading, allocation or compilation, input quantization and output
reading happen outside the timed call. Load + allocate (or compile) time and the first (cold) invoke go to
``extra_info`` as ``init_s`` and ``first_invoke_s``; so do p90/p99 of the per-invoke times and the
process's peak RSS while this benchmark ran.
"""

import time

import numpy as np

from qbench.measure import latency_percentiles, peak_rss_bytes, reset_peak_rss

SAMPLE_INDEX = 0  # the first test image/frame: fixed, so every machine times the same input


def test_invoke(benchmark, qbench, qbench_model, qbench_mode, qbench_device):
    sample = qbench.eval_set(qbench_model).x[SAMPLE_INDEX : SAMPLE_INDEX + 1]
    info = qbench.result_info(qbench_model, qbench_mode, qbench_device)  # builds/evaluates outside the peak
    peak_reset = reset_peak_rss()
    runner = qbench.runner(qbench_model, qbench_mode, qbench_device)
    runner.set_input(sample)
    start = time.perf_counter()
    runner.invoke()
    first_invoke_s = time.perf_counter() - start
    expected = runner.raw_output().copy()

    benchmark.group = f"{qbench_model} on {qbench_device}"
    benchmark.extra_info.update(info, init_s=runner.init_s, first_invoke_s=first_invoke_s, backend=runner.backend)
    benchmark(runner.invoke)

    # The timed loop must have computed the same thing as the untimed call.
    np.testing.assert_array_equal(runner.raw_output(), expected)
    benchmark.extra_info["peak_rss_bytes"] = peak_rss_bytes()
    benchmark.extra_info["peak_rss_scope"] = "benchmark" if peak_reset else "process"
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info.update(latency_percentiles(benchmark.stats.stats.data))
        benchmark.extra_info["fps"] = 1.0 / benchmark.extra_info["latency_median_s"]
