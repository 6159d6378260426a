"""qbench: benchmark TensorFlow Lite / LiteRT post-training quantization modes per device.

Data flows one way: data -> models -> convert(mode) -> cache -> runtime(device) -> metrics -> report.
The run stage (runtime, metrics, plugin with a warm cache or a bundle) never imports TensorFlow.
"""

__version__ = "0.1.0"
