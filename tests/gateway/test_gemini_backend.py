"""Gemini providers behind the OpenAI front door, driven by the official openai SDK against the mock Gemini API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import ModelFactory
from tests.mock_upstream.gemini_dialect import THOUGHT, TOOL_ARGS
from tests.mock_upstream.openai_dialect import WORDS, vector
from tests.mock_upstream.server import MockUpstream

HELLO: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False},
    },
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def gemini_model(models: ModelFactory, name: str, upstream: str, **fields: Any) -> dict[str, Any]:
    provider = await models.provider(upstream, wire_format="gemini", base_path="/v1beta")
    return await models.router(name, [provider], **fields)


async def test_chat_completion(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-chat")
    await gemini_model(models, "gem-chat", upstream)
    completion = await openai_client.chat.completions.create(
        model="gem-chat",
        messages=[{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"}],
        temperature=0.3,
        max_tokens=50,
        stop=["END"],
    )
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.choices[0].finish_reason == "stop" and completion.model == upstream
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 6, 17)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3
    (sent,) = mock_upstream.received(model=upstream)
    assert sent.path == f"/v1beta/models/{upstream}:generateContent"
    assert sent.headers["x-goog-api-key"].startswith("sk-upstream-secret-") and "Authorization" not in sent.headers
    assert sent.body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be nice."}]},
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50, "stopSequences": ["END"]},
    }


async def test_streaming_text_and_usage(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-stream")
    await gemini_model(models, "gem-stream", upstream)
    stream = await openai_client.chat.completions.create(model="gem-stream", messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(WORDS)
    assert chunks[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in chunks)
    assert mock_upstream.received(model=upstream)[-1].query == {"alt": "sse"}

    with_usage = await openai_client.chat.completions.create(
        model="gem-stream", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in with_usage]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens == 17
    assert last.usage.prompt_tokens_details is not None and last.usage.prompt_tokens_details.cached_tokens == 3
    assert mock_upstream.received(model=upstream)[-1].path == f"/v1beta/models/{upstream}:streamGenerateContent"


async def test_streamed_tool_call(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-calls")
    await gemini_model(models, "gem-calls", upstream)
    stream = await openai_client.chat.completions.create(
        model="gem-calls", messages=HELLO, stream=True, tools=[WEATHER_TOOL], tool_choice="required"
    )
    arguments, names, ids, finish = "", [], set(), None
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.index == 0
            ids.add(call.id)
            if call.function is not None:
                arguments += call.function.arguments or ""
                names.append(call.function.name)
        finish = chunk.choices[0].finish_reason or finish
    assert orjson.loads(arguments) == TOOL_ARGS and names == ["get_weather"] and finish == "tool_calls"
    assert len(ids) == 1 and None not in ids
    sent = mock_upstream.received(model=upstream)[-1].body
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == WEATHER_TOOL["function"]["parameters"]


async def test_tool_call_round_trip_keeps_the_thought_signature(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-tools")  # the mock calls a function for "tools" models
    await gemini_model(models, "gem-round", upstream)
    first = await openai_client.chat.completions.create(model="gem-round", messages=HELLO, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and message.tool_calls
    call = message.tool_calls[0]
    assert call.type == "function" and orjson.loads(call.function.arguments) == TOOL_ARGS
    replay = message.model_dump(exclude_none=True)
    await openai_client.chat.completions.create(
        model="gem-round",
        messages=[*HELLO, replay, {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'}],  # type: ignore[list-item]
        tools=[WEATHER_TOOL],
    )
    contents = mock_upstream.received(model=upstream)[-1].body["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": TOOL_ARGS}, "thoughtSignature": "c2lnbmF0dXJl"}],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}],
    }


@pytest.mark.parametrize(
    ("fault", "finish"),
    [("finish-max_tokens", "length"), ("finish-safety", "content_filter"), ("blocked", "content_filter")],
)
async def test_finish_reasons(models: ModelFactory, openai_client: openai.AsyncOpenAI, fault: str, finish: str) -> None:
    await gemini_model(models, "gem-finish", unique(f"gem-{fault}"))
    whole = await openai_client.chat.completions.create(model="gem-finish", messages=HELLO)
    assert whole.choices[0].finish_reason == finish
    stream = await openai_client.chat.completions.create(model="gem-finish", messages=HELLO, stream=True)
    reasons = [c.choices[0].finish_reason async for c in stream if c.choices and c.choices[0].finish_reason]
    assert reasons == [finish]


async def test_thinking_tokens_and_several_candidates(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await gemini_model(models, "gem-think", unique("gem-think"))
    completion = await openai_client.chat.completions.create(model="gem-think", messages=HELLO, n=2)
    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.choices[1].message.content == "".join(WORDS)
    assert (completion.choices[0].message.model_extra or {}).get("reasoning_content") == THOUGHT
    usage = completion.usage
    assert usage is not None and usage.completion_tokens == 11
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 5


async def test_embeddings_float_and_base64(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-embed")
    await gemini_model(models, "gem-embed", upstream, model_type="text-embeddings-inference")
    as_base64 = await openai_client.embeddings.create(model="gem-embed", input=["one", "two"])  # the SDK's default
    assert [d.embedding for d in as_base64.data] == [pytest.approx(vector("one")), pytest.approx(vector("two"))]
    assert as_base64.usage.prompt_tokens == 2
    assert mock_upstream.received(model=upstream)[-1].path == f"/v1beta/models/{upstream}:batchEmbedContents"
    as_float = await openai_client.embeddings.create(
        model="gem-embed", input="one", encoding_format="float", dimensions=4
    )
    assert as_float.data[0].embedding == pytest.approx(vector("one", 4))
    sent = mock_upstream.received(model=upstream)[-1]
    assert sent.path == f"/v1beta/models/{upstream}:embedContent"
    assert sent.body == {"content": {"parts": [{"text": "one"}]}, "outputDimensionality": 4}


async def test_an_upstream_400_passes_through(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await gemini_model(models, "gem-400", unique("gem-fail-400"))
    for stream in (False, True):
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "gem-400", "messages": HELLO, "stream": stream},
            headers=admin_headers,
        )
        assert answer.status_code == 400
        assert answer.json()["error"] == {
            "message": "mock failure 400",
            "type": "invalid_request_error",
            "code": "INVALID_ARGUMENT",
            "param": None,
        }


async def test_input_gemini_cannot_take_is_refused_before_the_upstream(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("gem-refuse")
    await gemini_model(models, "gem-refuse", upstream)
    with pytest.raises(openai.BadRequestError) as refused:
        await openai_client.chat.completions.create(
            model="gem-refuse", messages=[*HELLO, {"role": "tool", "tool_call_id": "nobody", "content": "x"}]
        )
    assert "tool_call_id" in refused.value.message
    assert mock_upstream.received(model=upstream) == []


@pytest.mark.parametrize("stream", [False, True])
async def test_a_5xx_fails_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, stream: bool
) -> None:
    broken, gemini_backup, openai_backup = unique("gem-fail-500"), unique("gem-fail-503"), unique("healthy")
    first = await models.provider(broken, wire_format="gemini", base_path="/v1beta")
    second = await models.provider(gemini_backup, wire_format="gemini", base_path="/v1beta")
    third = await models.provider(openai_backup)
    await models.router("gem-fo", [first, second, third], mode="fallback")
    if stream:
        chunks = await openai_client.chat.completions.create(model="gem-fo", messages=HELLO, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        answer = await openai_client.chat.completions.create(model="gem-fo", messages=HELLO)
        text = answer.choices[0].message.content or ""
    assert text == "".join(WORDS)
    assert [len(mock_upstream.received(model=m)) for m in (broken, gemini_backup, openai_backup)] == [1, 1, 1]

    healthy = await models.provider(unique("gem-ok"), wire_format="gemini", base_path="/v1beta")
    failing = await models.provider(unique("gem-fail-502"), wire_format="gemini", base_path="/v1beta")
    await models.router("gem-fo-2", [failing, healthy], mode="fallback")
    again = await openai_client.chat.completions.create(model="gem-fo-2", messages=HELLO)
    assert again.choices[0].message.content == "".join(WORDS)


@pytest.mark.parametrize("fault", ["fail-429", "fail-401", "reset", "malformed"])
async def test_other_faults_fail_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"gem-{fault}"), unique("gem-good")
    first = await models.provider(bad, wire_format="gemini", base_path="/v1beta")
    second = await models.provider(good, wire_format="gemini", base_path="/v1beta")
    await models.router(f"gem-fo-{fault}", [first, second], mode="fallback")
    answer = await openai_client.chat.completions.create(model=f"gem-fo-{fault}", messages=HELLO)
    assert answer.choices[0].message.content == "".join(WORDS)
    assert [len(mock_upstream.received(model=m)) for m in (bad, good)] == [1, 1]
