"""Failover, timeouts and the circuit breaker, with faults injected by the mock upstream."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ModelFactory
from tests.mock_upstream.openai_dialect import WORDS
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]
HELLO = [{"role": "user", "content": "hi"}]
FAST = {"timeouts": {"connect": 2, "first_byte": 0.5, "total": 10}}


def unique(prefix: str) -> str:
    """An upstream model name no other test uses (the mock records requests by it)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def fallback(models: ModelFactory, name: str, first: str, second: str, **first_fields: Any) -> None:
    bad = await models.provider(first, **first_fields)
    good = await models.provider(second)
    await models.router(name, [bad, good], mode="fallback")


@pytest.mark.parametrize("fault", ["fail-500", "fail-503", "fail-429", "reset", "malformed", "fail-401", "fail-404"])
async def test_fails_over_to_the_next_provider(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"bad-{fault}"), unique("healthy")
    await fallback(models, f"fo-{fault}", bad, good)
    answer = await openai_client.chat.completions.create(model=f"fo-{fault}", messages=HELLO)
    assert answer.choices[0].message.content == "".join(WORDS)
    assert len(mock_upstream.received(model=bad)) == 1
    assert len(mock_upstream.received(model=good)) == 1


async def test_timeout_before_first_byte_fails_over_and_alone_is_504(
    models: ModelFactory, openai_client: openai.AsyncOpenAI
) -> None:
    await fallback(models, "fo-slow", unique("slow"), unique("healthy"), **FAST)
    answer = await openai_client.chat.completions.create(model="fo-slow", messages=HELLO)
    assert answer.choices[0].message.content == "".join(WORDS)
    alone = await models.provider(unique("slow-alone"), **FAST)
    await models.router("slow-alone", [alone])
    with pytest.raises(openai.APIStatusError) as failed:
        await openai_client.chat.completions.create(model="slow-alone", messages=HELLO)
    assert failed.value.status_code == 504


async def test_client_errors_pass_through_without_failover(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    good = unique("healthy")
    await fallback(models, "fo-400", unique("bad-fail-400"), good)
    answer = await client.post(
        "/v1/chat/completions", json={"model": "fo-400", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "message": "mock failure 400",
        "type": "invalid_request_error",
        "code": "mock_400",
        "param": "messages",
    }
    assert mock_upstream.received(model=good) == []


@pytest.mark.parametrize(("fault", "status"), [("fail-500", 502), ("fail-429", 429), ("malformed", 502)])
async def test_a_lone_failing_provider(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, fault: str, status: int
) -> None:
    await models.model(f"lone-{fault}", unique(f"lone-{fault}"))
    answer = await client.post(
        "/v1/chat/completions", json={"model": f"lone-{fault}", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"message", "type", "code", "param"}


async def test_circuit_opens_after_consecutive_failures(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    upstream = unique("breaker-fail-500")
    await models.model("breaker", upstream)
    body = {"model": "breaker", "messages": HELLO}
    statuses = [
        (await client.post("/v1/chat/completions", json=body, headers=admin_headers)).status_code for _ in range(6)
    ]
    assert statuses == [502] * 5 + [503]
    assert len(mock_upstream.received(model=upstream)) == 5  # the sixth never left the gateway
    refused = await client.post("/v1/chat/completions", json=body, headers=admin_headers)
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1


async def test_streams_fail_over_before_the_first_byte(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await fallback(models, "fo-stream", unique("bad-fail-503"), unique("healthy"))
    stream = await openai_client.chat.completions.create(model="fo-stream", messages=HELLO, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "".join(WORDS)


@pytest.mark.parametrize("fault", ["truncate", "stall"])
async def test_a_stream_broken_after_the_first_byte_ends_with_an_error_event(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    backup_model = unique("backup")
    broken = await models.provider(unique(fault), **FAST)
    backup = await models.provider(backup_model)
    await models.router(f"broken-{fault}", [broken, backup], mode="fallback")
    stream = await openai_client.chat.completions.create(model=f"broken-{fault}", messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            received.append(chunk)
    assert received  # something reached the client first, so no other provider was tried
    assert mock_upstream.received(model=backup_model) == []


async def test_retry_on_chooses_what_moves_on_to_the_next_provider(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    bad, good = await models.provider(unique("bad-fail-503")), await models.provider(unique("healthy"))
    router = await models.router("picky", [bad, good], mode="fallback", retry_on=["timeout", "429"])
    assert router["retry_on"] == ["429", "timeout"]
    body = {"model": "picky", "messages": HELLO}
    refused = await client.post("/v1/chat/completions", json=body, headers=admin_headers)
    assert refused.status_code == 503  # a 5xx, and the router does not move on after 5xx
    await client.patch(f"/api/v1/routers/{router['id']}", json={"retry_on": ["5xx"]}, headers=admin_headers)
    assert (await client.post("/v1/chat/completions", json=body, headers=admin_headers)).status_code == 200
    invalid = await client.patch(
        f"/api/v1/routers/{router['id']}", json={"retry_on": ["always"]}, headers=admin_headers
    )
    assert invalid.status_code == 422 and invalid.json()["error"]["param"] == "retry_on.0"
