"""An Anthropic-format backend behind /v1/chat/completions, driven by the official openai SDK."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, ModelFactory
from tests.mock_upstream.anthropic_dialect import TOOL_TEXT, TOOL_USE_ID
from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS
from tests.mock_upstream.server import MockUpstream

HELLO = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def claude(models: ModelFactory, name: str, upstream: str | None = None) -> str:
    """A router named ``name`` over one anthropic-format provider; its upstream model name."""
    upstream = upstream or unique(name)
    await models.model(name, upstream, wire_format="anthropic")
    return upstream


async def test_plain_answer_usage_and_what_the_upstream_received(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = await claude(models, "claude-plain")
    completion = await openai_client.chat.completions.create(
        model="claude-plain",
        messages=[{"role": "system", "content": "Be brief."}, *HELLO],
        temperature=0.2,
        seed=3,
    )
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id == "msg_mock01"
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 6, 16)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3
    sent = mock_upstream.received(model=upstream)[-1]
    assert sent.path == "/v1/messages"
    assert sent.body == {
        "model": upstream,
        "max_tokens": 4096,
        "messages": HELLO,
        "system": "Be brief.",
        "temperature": 0.2,
    }
    assert sent.headers["x-api-key"].startswith("sk-upstream-secret-")
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers and ADMIN_KEY not in str(sent.headers)


async def test_streaming_text_with_usage(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await claude(models, "claude-stream")
    stream = await openai_client.chat.completions.create(
        model="claude-stream", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None and usage.total_tokens == 16
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3

    without = await openai_client.chat.completions.create(model="claude-stream", messages=HELLO, stream=True)
    assert all([c.usage is None async for c in without])


async def test_streamed_tool_call_with_argument_deltas(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await claude(models, "claude-tools", unique("claude-tools"))
    stream = await openai_client.chat.completions.create(
        model="claude-tools", messages=HELLO, stream=True, tools=[WEATHER]
    )
    text, arguments, deltas, finish, opened = "", "", 0, None, []
    async for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            if call.id:
                opened.append((call.index, call.id, call.function.name if call.function else None))
            if call.function and call.function.arguments:
                arguments += call.function.arguments
                deltas += 1
        finish = chunk.choices[0].finish_reason or finish
    assert text == TOOL_TEXT and opened == [(0, TOOL_USE_ID, "get_weather")]
    assert arguments == TOOL_ARGUMENTS and deltas > 1 and finish == "tool_calls"


async def test_forced_tool_call_and_its_result_round_trip(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = await claude(models, "claude-forced")
    completion = await openai_client.chat.completions.create(
        model="claude-forced", messages=HELLO, tools=[WEATHER], tool_choice="required"
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].id == TOOL_USE_ID and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == json.loads(TOOL_ARGUMENTS)
    assert mock_upstream.received(model=upstream)[-1].body["tool_choice"] == {"type": "any"}

    # the mock refuses a tool_result that answers no tool_use of the turn before, as Anthropic does
    answer = await openai_client.chat.completions.create(
        model="claude-forced",
        tools=[WEATHER],
        messages=[
            *HELLO,
            {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump(exclude_none=True)]},
            {"role": "tool", "tool_call_id": calls[0].id, "content": "18 C"},
        ],
    )
    assert answer.choices[0].message.content == "".join(WORDS)
    sent = mock_upstream.received(model=upstream)[-1].body
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "18 C"}],
    }


async def test_finish_reasons_length_and_stop_sequence(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await claude(models, "claude-finish")
    cut = await openai_client.chat.completions.create(model="claude-finish", messages=HELLO, max_tokens=2)
    assert cut.choices[0].finish_reason == "length" and cut.choices[0].message.content == "Hello from"
    stopped = await openai_client.chat.completions.create(model="claude-finish", messages=HELLO, stop=[" mock"])
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == "Hello from the"
    stream = await openai_client.chat.completions.create(
        model="claude-finish", messages=HELLO, max_completion_tokens=3, stream=True
    )
    finishes = [c.choices[0].finish_reason async for c in stream if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]


async def test_images_become_image_blocks(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = await claude(models, "claude-vision")
    await openai_client.chat.completions.create(
        model="claude-vision",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/b.png", "detail": "low"}},
                ],
            }
        ],
    )
    assert mock_upstream.received(model=upstream)[-1].body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklGRg=="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/b.png"}},
    ]


async def test_an_upstream_400_passes_through_with_its_message(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await claude(models, "claude-400", unique("claude-fail-400"))
    answer = await client.post(
        "/v1/chat/completions", json={"model": "claude-400", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "message": "mock failure 400",
        "type": "invalid_request_error",
        "code": None,
        "param": None,
    }


async def test_unsupported_input_is_a_400_before_any_upstream_call(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = await claude(models, "claude-audio")
    with pytest.raises(openai.BadRequestError) as refused:
        await openai_client.chat.completions.create(
            model="claude-audio",
            messages=[
                {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}
            ],
        )
    assert "input_audio" in refused.value.message
    assert mock_upstream.received(model=upstream) == []


@pytest.mark.parametrize("fault", ["fail-529", "fail-500", "fail-429"])
async def test_a_failing_anthropic_provider_fails_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"claude-{fault}"), unique("claude-healthy")
    first = await models.provider(bad, wire_format="anthropic")
    second = await models.provider(good, wire_format="anthropic")
    await models.router(f"claude-fo-{fault}", [first, second], mode="fallback")
    for stream in (False, True):
        if stream:
            chunks = await openai_client.chat.completions.create(
                model=f"claude-fo-{fault}", messages=HELLO, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        else:
            answer = await openai_client.chat.completions.create(model=f"claude-fo-{fault}", messages=HELLO)
            text = answer.choices[0].message.content or ""
        assert text == "".join(WORDS)
    assert len(mock_upstream.received(model=bad)) == 2 and len(mock_upstream.received(model=good)) == 2


async def test_an_error_event_mid_stream_reaches_the_client(
    models: ModelFactory, openai_client: openai.AsyncOpenAI
) -> None:
    await claude(models, "claude-overloaded", unique("claude-overloaded"))
    stream = await openai_client.chat.completions.create(model="claude-overloaded", messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIError) as failed:
        async for chunk in stream:
            received.append(chunk)
    assert "".join(c.choices[0].delta.content or "" for c in received) == WORDS[0]
    assert "Overloaded" in failed.value.message
