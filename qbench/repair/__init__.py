"""Explain and repair, above the quantizers: where a quantized mode loses quality, and the cheapest fix that meets the
budget.

- ``compare`` / ``twins`` / ``layers``: the per-layer error of a quantized .tflite against float32 on a fixed set of
  evaluation inputs (LiteRT, numpy and the flatbuffer schema only: the run stage can do it);
- ``explainer``: that table as a cached artifact (kind ``explain``), and the worst layers benchmark results carry
  under ``--qbench-explain``;
- ``command`` / ``figure``: ``qbench explain MODEL MODE`` (a table of the worst layers, the figure, the JSON);
- ``search`` / ``budget``: the ``<mode>+budget`` modes' greedy mixed-precision search and the backend that builds
  them through the lossy mode's own backend.
"""
