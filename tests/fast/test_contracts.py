"""The mode contract on hand-built models: granularity rules that say something true about the file."""

from __future__ import annotations

import tiny_tflite
from qbench.contracts import check
from qbench.modes import Contract
from qbench.tflite_file import TfliteModel

PER_CHANNEL_INT8 = Contract("int8", ops=frozenset({"FULLY_CONNECTED"}), granularity="per-channel")


def problems(data: bytes) -> list[str]:
    return check(TfliteModel(data, "tiny"), PER_CHANNEL_INT8)


def test_one_output_channel_with_one_scale_is_per_channel():
    """MediaPipe's hand model ends in FULLY_CONNECTED layers of one unit: one channel, one scale."""
    assert problems(tiny_tflite.dense(1, per_tensor=True)) == []


def test_several_output_channels_with_one_scale_break_the_per_channel_rule():
    found = problems(tiny_tflite.dense(3, per_tensor=True))
    assert len(found) == 1 and "weights must be per-channel" in found[0] and "per-tensor" in found[0]


def test_several_output_channels_with_a_scale_each_are_per_channel():
    assert problems(tiny_tflite.dense(3, per_tensor=False)) == []
