"""Cohere providers behind the OpenAI front door: the official openai SDK (chat, embeddings) and httpx (rerank)
against the mock Cohere API v2."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ModelFactory
from tests.mock_upstream.cohere_dialect import CACHED, PROCESSED_INPUT, TOOL_ARGUMENTS, TOOL_PLAN
from tests.mock_upstream.openai_dialect import WORDS, vector
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]
HELLO: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def cohere_model(models: ModelFactory, name: str, *upstreams: str, **fields: Any) -> None:
    providers = [await models.provider(u, wire_format="cohere", base_path="") for u in upstreams]
    await models.router(name, providers, **({"mode": "fallback"} if len(providers) > 1 else {}) | fields)


async def test_chat_completion(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("co-chat")
    await cohere_model(models, "co-chat", upstream)
    completion = await openai_client.chat.completions.create(
        model="co-chat",
        messages=[{"role": "system", "content": "Be nice."}, *HELLO],
        temperature=0.3,
        top_p=0.8,
        max_tokens=50,
    )
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.choices[0].finish_reason == "stop" and completion.model == upstream
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (PROCESSED_INPUT, len(WORDS))
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == CACHED
    (sent,) = mock_upstream.received(model=upstream)
    assert sent.path == "/v2/chat" and sent.headers["Authorization"].startswith("Bearer sk-upstream-secret-")
    assert sent.body == {
        "model": upstream,
        "messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "p": 0.8,
        "temperature": 0.3,
    }


async def test_streaming_text_and_usage(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await cohere_model(models, "co-stream", unique("co-stream"))
    stream = await openai_client.chat.completions.create(model="co-stream", messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert chunks[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in chunks)
    assert chunks[0].id == "mock-cohere-stream"

    stream = await openai_client.chat.completions.create(
        model="co-stream", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (PROCESSED_INPUT, len(WORDS))
    assert last.usage.prompt_tokens_details is not None and last.usage.prompt_tokens_details.cached_tokens == CACHED


async def test_streamed_tool_call_arguments(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("co-stream")
    await cohere_model(models, "co-tools", upstream)
    stream = await openai_client.chat.completions.create(
        model="co-tools", messages=HELLO, stream=True, tools=[WEATHER_TOOL], tool_choice="required"
    )
    content, arguments, names, pieces, finish = "", "", [], 0, None
    async for chunk in stream:
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for call in delta.tool_calls or []:
            assert call.index == 0
            names += [call.function.name] if call.function and call.function.name else []
            arguments += call.function.arguments or "" if call.function else ""
            pieces += 1
        finish = chunk.choices[0].finish_reason or finish
    assert (content, names, arguments, finish) == ("".join(TOOL_PLAN), ["get_weather"], TOOL_ARGUMENTS, "tool_calls")
    assert pieces > 2  # the arguments arrived as deltas
    (sent,) = mock_upstream.received(model=upstream)
    assert sent.body["tool_choice"] == "REQUIRED" and sent.body["tools"][0]["function"]["name"] == "get_weather"


async def test_tool_call_and_its_result_round_trip(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    upstream = unique("co-tools")  # the mock answers with a tool call
    await cohere_model(models, "co-round", upstream)
    first = await openai_client.chat.completions.create(model="co-round", messages=HELLO, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and message.content == "".join(TOOL_PLAN)
    assert message.tool_calls and message.tool_calls[0].function.arguments == TOOL_ARGUMENTS
    call = message.tool_calls[0]
    await openai_client.chat.completions.create(
        model="co-round",
        messages=[
            *HELLO,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "21"},
        ],
        tools=[WEATHER_TOOL],
    )
    sent = mock_upstream.received(model=upstream)[-1]
    assert sent.body["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}
            ],
            "tool_plan": "".join(TOOL_PLAN),
        },
        {"role": "tool", "tool_call_id": call.id, "content": "21"},
    ]


@pytest.mark.parametrize(
    ("options", "content", "finish"),
    [({"max_tokens": 2}, "Hello from", "length"), ({"stop": ["mock"]}, "Hello from the", "stop")],
)
async def test_finish_reasons(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, options: dict[str, Any], content: str, finish: str
) -> None:
    await cohere_model(models, "co-finish", unique("co-finish"))
    completion = await openai_client.chat.completions.create(model="co-finish", messages=HELLO, **options)
    assert (completion.choices[0].message.content, completion.choices[0].finish_reason) == (content, finish)
    stream = await openai_client.chat.completions.create(model="co-finish", messages=HELLO, stream=True, **options)
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == finish


async def test_an_upstream_400_passes_through(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    healthy = unique("co-healthy")
    await cohere_model(models, "co-400", unique("co-fail-400"), healthy)
    answer = await client.post(
        "/v1/chat/completions", json={"model": "co-400", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == 400 and answer.json()["error"]["message"] == "mock failure 400"
    assert mock_upstream.received(model=healthy) == []


@pytest.mark.parametrize("fault", ["fail-500", "fail-503", "generror"])
async def test_failures_fail_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"co-{fault}"), unique("co-healthy")
    await cohere_model(models, f"co-fo-{fault}", bad, good)
    completion = await openai_client.chat.completions.create(model=f"co-fo-{fault}", messages=HELLO)
    assert completion.choices[0].message.content == "".join(WORDS)
    assert len(mock_upstream.received(model=bad)) == 1 and len(mock_upstream.received(model=good)) == 1


async def test_a_generation_error_mid_stream_ends_with_an_error(
    models: ModelFactory, openai_client: openai.AsyncOpenAI
) -> None:
    await cohere_model(models, "co-generror", unique("co-generror"))
    stream = await openai_client.chat.completions.create(model="co-generror", messages=HELLO, stream=True)
    received = ""
    with pytest.raises(openai.APIError, match="mock generation failure"):
        async for chunk in stream:
            received += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert received == "".join(WORDS)


async def test_embeddings(models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    upstream = unique("co-embed")
    await cohere_model(models, "co-embed", upstream, model_type="text-embeddings-inference")
    as_base64 = await openai_client.embeddings.create(model="co-embed", input=["one two", "three"])
    as_float = await openai_client.embeddings.create(model="co-embed", input="one two", encoding_format="float")
    assert as_base64.data[1].embedding == pytest.approx(vector("three"))
    assert as_float.data[0].embedding == pytest.approx(vector("one two"))
    assert as_base64.usage.prompt_tokens == 3
    sent = mock_upstream.received(model=upstream)[0]
    assert sent.path == "/v2/embed"
    assert sent.body == {
        "model": upstream,
        "texts": ["one two", "three"],
        "input_type": "search_document",
        "embedding_types": ["float"],
    }


async def test_rerank(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    upstream = unique("co-rerank")
    await cohere_model(models, "co-rerank", upstream, model_type="text-classification")
    body = {
        "model": "co-rerank",
        "query": "capital of france",
        "documents": ["berlin is in germany", {"text": "paris is the capital of france"}, "france has wine"],
        "top_n": 2,
        "return_documents": True,
    }
    answer = await client.post("/v1/rerank", json=body, headers=admin_headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert [r["index"] for r in data["results"]] == [1, 2]
    assert data["results"][0]["document"] == {"text": "paris is the capital of france"}
    assert 0 < data["results"][1]["relevance_score"] < data["results"][0]["relevance_score"] <= 1
    assert data["id"] == "mock-cohere-rerank" and data["meta"]["billed_units"] == {"search_units": 1}
    assert data["usage"]["total_tokens"] > 0
    (sent,) = mock_upstream.received(model=upstream)
    assert sent.path == "/v2/rerank" and sent.body == {
        "model": upstream,
        "query": "capital of france",
        "documents": ["berlin is in germany", "paris is the capital of france", "france has wine"],
        "top_n": 2,
    }
    plain = await client.post("/v1/rerank", json=body | {"return_documents": False}, headers=admin_headers)
    assert all("document" not in r for r in plain.json()["results"])
