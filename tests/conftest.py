"""Settings profiles chosen by environment, as Hypothesis' own suite does (HYPOTHESIS_PROFILE=ci in CI), and the tier
markers: every test under tests/fast/ is ``fast``, under tests/integration/ ``integration`` (tests/README.md), so
``pytest tests/ -m fast`` selects a tier wherever its files are named."""


import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TIERS = ("fast", "integration")

pytest_plugins = ["pytester"]

settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((t for t in TIERS if t in Path(item.path).parts), None)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid} is in no tier folder: move it to tests/fast/ or tests/integration/ "
                                    "(tests/README.md)")
        item.add_marker(tier)
