# Registers qbench's pytest plugin for this repository's runs (benchmarks/ and tests/).
pytest_plugins = ["qbench.plugin"]
