"""QoS: a provider's max_in_flight, the router's queue ordered by user priority, and 503 after the wait."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import CallerFactory, ModelFactory


def chat(model: str) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


async def test_a_full_provider_queues_by_priority_then_answers_503_after_the_wait(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    provider = await models.provider("slow-qos", max_in_flight=1)  # the mock answers "slow" models after 2 s
    await models.router("qos", [provider], max_queue_wait_seconds=6)
    low, high = await new_caller(), await new_caller()
    answer = await client.patch(f"/api/v1/users/{high['user']['id']}", json={"priority": 10}, headers=admin_headers)
    assert answer.status_code == 200
    finished: list[str] = []

    async def ask(who: str, headers: dict[str, str]) -> int:
        status = (await client.post("/v1/chat/completions", json=chat("qos"), headers=headers)).status_code
        finished.append(who)
        return status

    first = asyncio.ensure_future(ask("first", admin_headers))
    await asyncio.sleep(0.3)  # the first holds the only slot
    queued_low = asyncio.ensure_future(ask("low", low["headers"]))
    await asyncio.sleep(0.1)
    queued_high = asyncio.ensure_future(ask("high", high["headers"]))
    assert await asyncio.gather(first, queued_low, queued_high) == [200, 200, 200]
    assert finished == ["first", "high", "low"]  # higher priority first, although it came later


async def test_a_request_that_waited_too_long_gets_503_with_retry_after(
    client: httpx.AsyncClient, admin_headers: dict[str, str], models: ModelFactory
) -> None:
    provider = await models.provider("slow-full", max_in_flight=1)
    await models.router("full", [provider], max_queue_wait_seconds=0.3)
    holder = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat("full"), headers=admin_headers))
    await asyncio.sleep(0.3)
    began = time.monotonic()
    refused = await client.post("/v1/chat/completions", json=chat("full"), headers=admin_headers)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "capacity_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert 0.25 <= time.monotonic() - began < 1.5
    assert (await holder).status_code == 200
