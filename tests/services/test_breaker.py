"""The per-provider circuit breaker (``services/gateway/breaker.py``), its clock driven by the test."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from switchyard.services.gateway import breaker as breaker_module
from switchyard.services.gateway.breaker import CircuitBreaker

PROVIDER = 7


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(breaker_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def test_opens_after_consecutive_failures(clock: Clock) -> None:
    circuit = CircuitBreaker(failures=3, min_calls=100)
    circuit.failure(PROVIDER)
    circuit.failure(PROVIDER)
    circuit.success(PROVIDER)  # a success in between starts the count again
    circuit.failure(PROVIDER)
    circuit.failure(PROVIDER)
    assert circuit.available(PROVIDER) and not circuit.is_open(PROVIDER)
    circuit.failure(PROVIDER)
    assert circuit.is_open(PROVIDER) and not circuit.available(PROVIDER)
    assert circuit.available(8)  # other providers are not affected


def test_opens_when_the_error_ratio_of_the_window_trips(clock: Clock) -> None:
    circuit = CircuitBreaker(failures=100, error_ratio=0.5, window=10, min_calls=10)
    for _ in range(4):
        circuit.success(PROVIDER)
        circuit.failure(PROVIDER)
    assert not circuit.is_open(PROVIDER)  # 4 of 8: not enough calls to judge yet
    circuit.success(PROVIDER)
    circuit.failure(PROVIDER)
    assert circuit.is_open(PROVIDER)  # 5 of 10 failed


def test_half_open_lets_one_probe_through_and_a_success_closes(clock: Clock) -> None:
    circuit = CircuitBreaker(failures=1, cooldown=30.0)
    circuit.failure(PROVIDER)
    clock.advance(29.9)
    assert not circuit.available(PROVIDER)
    assert circuit.retry_after([PROVIDER]) == pytest.approx(0.1)
    clock.advance(0.1)
    assert circuit.available(PROVIDER)  # the probe
    assert not circuit.available(PROVIDER)  # only one at a time
    circuit.success(PROVIDER)
    assert not circuit.is_open(PROVIDER)
    assert all(circuit.available(PROVIDER) for _ in range(5))


def test_a_failed_probe_opens_it_for_another_cooldown(clock: Clock) -> None:
    circuit = CircuitBreaker(failures=5, cooldown=10.0)
    for _ in range(5):
        circuit.failure(PROVIDER)
    clock.advance(10.0)
    assert circuit.available(PROVIDER)
    circuit.failure(PROVIDER)  # one failure is enough while probing
    assert circuit.is_open(PROVIDER) and not circuit.available(PROVIDER)
    clock.advance(9.0)
    assert not circuit.available(PROVIDER)
    assert circuit.retry_after([PROVIDER, 8]) == pytest.approx(1.0)
    clock.advance(1.0)
    assert circuit.available(PROVIDER)
