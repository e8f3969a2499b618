"""A circuit breaker per provider, in process.

Closed: requests flow. It opens after ``failures`` consecutive failures, or when at least ``min_calls`` of the
last ``window`` calls failed at ``error_ratio`` or more. Open: the provider is skipped while another can be
tried. After ``cooldown`` seconds it is half-open: one request probes it; success closes it, failure opens it
again for another cool-down.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _State:
    consecutive: int = 0
    opened_at: float | None = None
    probing: bool = False
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=20))


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 5,
        error_ratio: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        cooldown: float = 30.0,
    ) -> None:
        self._failures = failures
        self._ratio = error_ratio
        self._window = window
        self._min_calls = min_calls
        self._cooldown = cooldown
        self._states: dict[int, _State] = {}

    def _state(self, provider_id: int) -> _State:
        state = self._states.get(provider_id)
        if state is None:
            state = self._states[provider_id] = _State(recent=deque(maxlen=self._window))
        return state

    def available(self, provider_id: int) -> bool:
        """Whether a request may go to the provider now (claims the probe when half-open)."""
        state = self._states.get(provider_id)
        if state is None or state.opened_at is None:
            return True
        if time.monotonic() - state.opened_at < self._cooldown or state.probing:
            return False
        state.probing = True
        return True

    def is_open(self, provider_id: int) -> bool:
        state = self._states.get(provider_id)
        return state is not None and state.opened_at is not None

    def success(self, provider_id: int) -> None:
        state = self._state(provider_id)
        state.consecutive = 0
        state.opened_at = None
        state.probing = False
        state.recent.append(True)

    def failure(self, provider_id: int) -> None:
        state = self._state(provider_id)
        state.consecutive += 1
        state.recent.append(False)
        failed = state.recent.count(False)
        ratio_tripped = len(state.recent) >= self._min_calls and failed / len(state.recent) >= self._ratio
        if state.probing or state.consecutive >= self._failures or ratio_tripped:
            state.opened_at = time.monotonic()
            state.probing = False
            state.recent.clear()

    def retry_after(self, provider_ids: list[int]) -> float:
        """Seconds until the first of these providers half-opens."""
        now = time.monotonic()
        waits = [
            max(0.0, self._cooldown - (now - state.opened_at))
            for pid in provider_ids
            if (state := self._states.get(pid)) is not None and state.opened_at is not None
        ]
        return min(waits) if waits else 1.0
