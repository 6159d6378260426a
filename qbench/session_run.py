"""The session's results as the run document ``--benchmark-json`` holds: for the store and the terminal summary.

The document is the one pytest-benchmark wrote to ``--benchmark-json`` when that was given (``capture`` keeps a
reference to it); otherwise it is made with pytest-benchmark's own hooks, raw samples included, exactly as
``--benchmark-json`` would have made it (pytest-benchmark only builds one for --benchmark-json or
--benchmark-autosave).
"""

from __future__ import annotations

import json

import pytest
from pytest_benchmark.utils import safe_dumps

DOCUMENT = pytest.StashKey[dict]()


def capture(config: pytest.Config, output_json: dict) -> None:
    """pytest-benchmark builds the --benchmark-json document first, then the autosave one (maybe without samples)."""
    session = getattr(config, "_benchmarksession", None)
    if session is not None and session.json and DOCUMENT not in config.stash:
        config.stash[DOCUMENT] = output_json  # a reference: later update_json hooks may still add to it


def session_document(config: pytest.Config) -> tuple[dict | None, str]:
    """(the document, where it comes from), or (None, "") when the session measured no benchmark."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return None, ""
    doc = config.stash.get(DOCUMENT, None)
    if doc is not None:
        source = str(session.json)
    else:
        commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
        config.hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
        doc = config.hook.pytest_benchmark_generate_json(
            config=config, benchmarks=session.benchmarks, include_data=True,
            machine_info=session.get_machine_info(), commit_info=commit_info,
        )
        config.hook.pytest_benchmark_update_json(config=config, benchmarks=session.benchmarks, output_json=doc)
        source = f"pytest session at {str(doc.get('datetime', ''))[:19]}"
    return json.loads(safe_dumps(doc)), source  # what a --benchmark-json file of it holds
