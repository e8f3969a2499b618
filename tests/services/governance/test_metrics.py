"""GatewayMetrics: the in-memory history behind the running/waiting timeseries, and time per output token."""

from __future__ import annotations

import pytest

from switchyard.services.governance.metrics import GaugeHistory, time_per_output_token_ms


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_history_keeps_the_last_value_of_each_second() -> None:
    clock = Clock()
    history = GaugeHistory(clock, seconds=3)
    clock.now = 1001.2
    history.note("p", 1)
    clock.now = 1001.7
    history.note("p", 5)  # same second: replaces 1
    clock.now = 1003.1
    history.note("p", 2)
    clock.now = 1010.0
    assert history.values_at("p", [999.0, 1001.0, 1002.0, 1003.0, 1004.0, 1010.0]) == [None, 0, 5, 5, 2, 2]
    history.note("p", 3)
    clock.now = 1011.0
    history.note("p", 4)  # four seconds noted: the oldest (1001) is forgotten
    assert history.values_at("p", [1001.5, 1002.0, 1004.0, 1011.0]) == [None, None, 2, 4]


@pytest.mark.parametrize(
    ("latency", "ttft", "tokens", "expected"),
    [
        (1000.0, 200.0, 5, 200.0),
        (1000.0, None, 5, 200.0),
        (300.0, 300.0, 1, 300.0),
        (50.0, 80.0, 3, 0.0),
        (9.0, None, 0, None),
    ],
)
def test_time_per_output_token(latency: float, ttft: float | None, tokens: int, expected: float | None) -> None:
    assert time_per_output_token_ms(latency, ttft, tokens) == expected
