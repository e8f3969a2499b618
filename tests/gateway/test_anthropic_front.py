"""``POST /v1/messages`` driven by the official anthropic SDK, over OpenAI- and Anthropic-format backends."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_KEY, ModelFactory
from tests.mock_upstream.anthropic_dialect import TOOL_TEXT, TOOL_USE_ID
from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS
from tests.mock_upstream.server import MockUpstream

HELLO: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER: Any = {"name": "get_weather", "description": "Weather by city", "input_schema": {"type": "object"}}
TEXT = "".join(WORDS)


@pytest.fixture
async def claude_sdk(app: FastAPI) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The official SDK (which speaks httpx2), talking to the in-process app; it posts to {base_url}/v1/messages."""
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as http:
        yield anthropic.AsyncAnthropic(api_key=ADMIN_KEY, base_url="http://testserver", http_client=http, max_retries=0)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["openai", "anthropic"])
def wire(request: pytest.FixtureRequest) -> str:
    """The wire format of the provider behind /v1/messages."""
    return str(request.param)


async def route(models: ModelFactory, name: str, wire: str, upstream: str | None = None) -> str:
    upstream = upstream or unique(name)
    await models.model(name, upstream, wire_format=wire)
    return upstream


def expected_usage(wire: str) -> tuple[int, int, int]:
    """input_tokens, cache_read_input_tokens, output_tokens as the front door reports each mock's usage."""
    return (8, 3, 6) if wire == "openai" else (7, 3, 6)  # openai mock: 11 prompt (3 cached); anthropic: 5+2+3


async def test_a_plain_message(
    models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic, mock_upstream: MockUpstream, wire: str
) -> None:
    upstream = await route(models, "front-plain", wire)
    raw = await claude_sdk.messages.with_raw_response.create(
        model="front-plain", max_tokens=100, system="Be brief.", messages=HELLO, extra_body={"temperature": 0.1}
    )
    message = await raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == TEXT
    assert message.stop_reason == "end_turn" and message.model == upstream
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == expected_usage(wire)
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    sent = mock_upstream.received(model=upstream)[-1].body
    assert sent["max_tokens"] == 100 and sent["temperature"] == 0.1
    if wire == "openai":
        assert sent["messages"] == [{"role": "system", "content": "Be brief."}, *HELLO]
    else:
        assert sent["system"] == "Be brief." and sent["messages"] == HELLO


async def test_a_streamed_message_event_by_event(
    models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic, wire: str
) -> None:
    upstream = await route(models, "front-stream", wire)
    stream = await claude_sdk.messages.create(model="front-stream", max_tokens=100, messages=HELLO, stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * len(WORDS),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start, block = events[0], events[1]
    assert start.type == "message_start" and start.message.model == upstream and start.message.id.startswith("msg_")
    # Anthropic tells the input up front; an OpenAI upstream only at the end (known early when chunks coalesce)
    assert start.message.usage.input_tokens in ((0, 8) if wire == "openai" else (7,))
    assert block.type == "content_block_start" and block.index == 0 and block.content_block.type == "text"
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert "".join(e.delta.text for e in deltas if e.delta.type == "text_delta") == TEXT
    delta = events[-2]
    assert delta.type == "message_delta" and delta.delta.stop_reason == "end_turn"
    assert (delta.usage.input_tokens, delta.usage.cache_read_input_tokens, delta.usage.output_tokens) == expected_usage(
        wire
    )


async def test_the_sdk_stream_helper_accumulates_a_tool_call(
    models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic, wire: str
) -> None:
    await route(models, "front-tools", wire, unique("front-tools"))
    async with claude_sdk.messages.stream(
        model="front-tools", max_tokens=100, messages=HELLO, tools=[WEATHER]
    ) as stream:
        partial = [e.partial_json async for e in stream if e.type == "input_json"]
        message = await stream.get_final_message()
    assert "".join(partial) == TOOL_ARGUMENTS and len(partial) > 1
    assert message.stop_reason == "tool_use"
    kinds = [block.type for block in message.content]
    tool = message.content[-1]
    assert tool.type == "tool_use" and tool.name == "get_weather" and tool.input == json.loads(TOOL_ARGUMENTS)
    if wire == "openai":
        assert kinds == ["tool_use"] and tool.id == "call_mock_1"
    else:
        assert kinds == ["text", "tool_use"] and tool.id == TOOL_USE_ID
        assert message.content[0].type == "text" and message.content[0].text == TOOL_TEXT


async def test_a_forced_tool_call_and_its_result(
    models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic, mock_upstream: MockUpstream, wire: str
) -> None:
    upstream = await route(models, "front-forced", wire)
    message = await claude_sdk.messages.create(
        model="front-forced",
        max_tokens=100,
        messages=HELLO,
        tools=[WEATHER],
        tool_choice={"type": "any"},
    )
    assert message.stop_reason == "tool_use"
    tool = message.content[-1]
    assert tool.type == "tool_use" and tool.input == json.loads(TOOL_ARGUMENTS)
    answer = await claude_sdk.messages.create(
        model="front-forced",
        max_tokens=100,
        tools=[WEATHER],
        messages=[
            *HELLO,
            {"role": "assistant", "content": [tool.model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool.id, "content": "18 C"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text == TEXT
    sent = mock_upstream.received(model=upstream)[-1].body
    if wire == "openai":
        assert sent["messages"][1]["tool_calls"][0]["id"] == tool.id
        assert sent["messages"][2:] == [
            {"role": "tool", "tool_call_id": tool.id, "content": "18 C"},
            {"role": "user", "content": "Thanks"},
        ]
    else:
        assert sent["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": tool.id, "content": "18 C"}


async def test_max_tokens_stops_a_message(models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic) -> None:
    await route(models, "front-short", "anthropic")
    message = await claude_sdk.messages.create(model="front-short", max_tokens=2, messages=HELLO)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "Hello from"


async def test_keys_as_x_api_key_or_bearer(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await route(models, "front-keys", "openai")
    body = {"model": "front-keys", "max_tokens": 10, "messages": HELLO}
    for headers in ({"x-api-key": ADMIN_KEY}, admin_headers):
        answer = await client.post("/v1/messages", json=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["content"][0]["text"] == TEXT


def anthropic_error(answer: httpx.Response, status: int, type_: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == type_
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("body", "status", "type_", "mentions"),
    [
        (b'{"model": "front-err", "max_tokens": 5, "messages": [', 400, "invalid_request_error", "JSON"),
        (
            b'{"model": "front-err", "messages": [{"role": "user", "content": "x"}]}',
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        (b'{"model": "front-err", "max_tokens": 5}', 400, "invalid_request_error", "messages"),
        (
            b'{"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}',
            404,
            "not_found_error",
            "nope",
        ),
        (
            b'{"model": "front-embed", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}',
            400,
            "invalid_request_error",
            "front-embed",
        ),
    ],
)
async def test_bad_requests_get_anthropic_errors(
    models: ModelFactory,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    body: bytes,
    status: int,
    type_: str,
    mentions: str,
) -> None:
    await route(models, "front-err", "openai")
    await models.model("front-embed", unique("embed"), model_type="text-embeddings-inference")
    answer = await client.post(
        "/v1/messages", content=body, headers=admin_headers | {"content-type": "application/json"}
    )
    assert mentions in anthropic_error(answer, status, type_)


async def test_no_or_wrong_key_is_an_anthropic_401(client: httpx.AsyncClient) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": HELLO}
    anthropic_error(await client.post("/v1/messages", json=body), 401, "authentication_error")
    anthropic_error(
        await client.post("/v1/messages", json=body, headers={"x-api-key": "sy-nope"}), 401, "authentication_error"
    )


async def test_the_sdk_raises_its_own_errors(models: ModelFactory, app: FastAPI) -> None:
    await route(models, "front-sdk-err", "anthropic", unique("claude-fail-400"))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as http:
        sdk = anthropic.AsyncAnthropic(api_key=ADMIN_KEY, base_url="http://testserver", http_client=http, max_retries=0)
        with pytest.raises(anthropic.NotFoundError):
            await sdk.messages.create(model="nope", max_tokens=5, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError) as rejected:
            await sdk.messages.create(model="front-sdk-err", max_tokens=5, messages=HELLO)
        assert rejected.value.body == {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "mock failure 400"},
        }
        nobody = anthropic.AsyncAnthropic(
            api_key="sy-wrong", base_url="http://testserver", http_client=http, max_retries=0
        )
        with pytest.raises(anthropic.AuthenticationError):
            await nobody.messages.create(model="front-sdk-err", max_tokens=5, messages=HELLO)


async def test_a_failing_provider_fails_over_and_an_exhausted_route_is_an_anthropic_error(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: dict[str, str], mock_upstream: MockUpstream
) -> None:
    bad, good = unique("claude-fail-529"), unique("healthy")
    first = await models.provider(bad, wire_format="anthropic")
    second = await models.provider(good)
    await models.router("front-fo", [first, second], mode="fallback")
    body = {"model": "front-fo", "max_tokens": 5, "messages": HELLO}
    answer = await client.post("/v1/messages", json=body, headers=admin_headers)
    assert answer.status_code == 200 and answer.json()["content"][0]["text"] == TEXT
    assert len(mock_upstream.received(model=bad)) == 1 and len(mock_upstream.received(model=good)) == 1
    await route(models, "front-lone", "anthropic", unique("claude-fail-500"))
    failed = await client.post("/v1/messages", json=body | {"model": "front-lone"}, headers=admin_headers)
    assert "500" in anthropic_error(failed, 502, "api_error")


async def test_an_error_mid_stream_is_an_anthropic_error_event(
    models: ModelFactory, claude_sdk: anthropic.AsyncAnthropic
) -> None:
    await route(models, "front-overloaded", "anthropic", unique("claude-overloaded"))
    stream = await claude_sdk.messages.create(model="front-overloaded", max_tokens=50, messages=HELLO, stream=True)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as failed:
        async for event in stream:
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta"]
    assert "Overloaded" in str(failed.value.body)
