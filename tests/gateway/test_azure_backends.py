"""Azure OpenAI providers behind the OpenAI front door, driven by the official openai SDK against the mock Azure
deployments."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ModelFactory
from tests.mock_upstream.azure_dialect import FILTER_MESSAGE, PROMPT_FILTER_RESULTS, SAFE, UNDERLYING_MODEL
from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS, vector
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]
HELLO: list[Any] = [{"role": "user", "content": "hi"}]
API_VERSION = "2024-10-21"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def azure_model(
    models: ModelFactory, name: str, *deployments: str, model_type: str = "text-generation", **fields: Any
) -> None:
    providers = [
        await models.provider(d, wire_format="azure_openai", base_path="", api_version=API_VERSION, **fields)
        for d in deployments
    ]
    await models.router(name, providers, model_type=model_type, **({"mode": "fallback"} if len(providers) > 1 else {}))


async def test_chat_completion_keeps_content_filter_results(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    deployment = unique("az-chat")
    await azure_model(models, "az-chat", deployment)
    completion = await openai_client.chat.completions.create(model="az-chat", messages=HELLO, temperature=0.1)
    choice = completion.choices[0]
    assert choice.message.content == "".join(WORDS) and choice.finish_reason == "stop"
    assert completion.model == UNDERLYING_MODEL
    assert completion.model_extra and completion.model_extra["prompt_filter_results"] == PROMPT_FILTER_RESULTS
    assert choice.model_extra and choice.model_extra["content_filter_results"] == SAFE
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (11, len(WORDS))
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3
    (sent,) = mock_upstream.received(model=deployment)
    assert sent.path == f"/openai/deployments/{deployment}/chat/completions"
    assert sent.query == {"api-version": API_VERSION}
    assert sent.headers["api-key"].startswith("sk-upstream-secret-") and "Authorization" not in sent.headers
    assert sent.body["temperature"] == 0.1


async def test_streaming_text_with_filter_results_and_usage(
    models: ModelFactory, openai_client: openai.AsyncOpenAI
) -> None:
    await azure_model(models, "az-stream", unique("az-stream"))
    stream = await openai_client.chat.completions.create(
        model="az-stream", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    first = chunks[0]
    assert first.choices == [] and first.model_extra and first.model_extra["prompt_filter_results"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[2].choices[0].model_extra and chunks[2].choices[0].model_extra["content_filter_results"] == SAFE
    last = chunks[-1]
    assert last.usage is not None and last.usage.total_tokens == 11 + len(WORDS)

    quiet = await openai_client.chat.completions.create(model="az-stream", messages=HELLO, stream=True)
    assert all(chunk.usage is None for chunk in [c async for c in quiet])


async def test_streamed_tool_call_arguments(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await azure_model(models, "az-tools", unique("az-tools"))
    stream = await openai_client.chat.completions.create(
        model="az-tools",
        messages=HELLO,
        stream=True,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    )
    arguments, pieces, finish = "", 0, None
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            arguments += call.function.arguments or "" if call.function else ""
            pieces += 1
        finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
    assert arguments == TOOL_ARGUMENTS and finish == "tool_calls" and pieces > 2


async def test_a_content_filter_refusal_is_a_400(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    backup = unique("az-backup")
    await azure_model(models, "az-filtered", unique("az-filtered"), backup)
    answer = await client.post(
        "/v1/chat/completions", json={"model": "az-filtered", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"], error["message"]) == ("content_filter", "prompt", FILTER_MESSAGE)
    assert mock_upstream.received(model=backup) == []


async def test_an_upstream_400_passes_through(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H
) -> None:
    await azure_model(models, "az-400", unique("az-fail-400"))
    answer = await client.post(
        "/v1/chat/completions", json={"model": "az-400", "messages": HELLO}, headers=admin_headers
    )
    assert answer.status_code == 400 and answer.json()["error"]["message"] == "mock failure 400"


@pytest.mark.parametrize("fault", ["fail-500", "fail-503"])
async def test_5xx_fails_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"az-{fault}"), unique("az-healthy")
    await azure_model(models, f"az-fo-{fault}", bad, good)
    completion = await openai_client.chat.completions.create(model=f"az-fo-{fault}", messages=HELLO, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in completion if c.choices])
    assert text == "".join(WORDS)
    assert len(mock_upstream.received(model=bad)) == 1 and len(mock_upstream.received(model=good)) == 1


async def test_a_refused_key_fails_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    keyless = await models.provider(
        unique("az-keyless"), wire_format="azure_openai", base_path="", api_version=API_VERSION, api_key=None
    )
    good = unique("az-healthy")
    healthy = await models.provider(good, wire_format="azure_openai", base_path="", api_version=API_VERSION)
    await models.router("az-keys", [keyless, healthy], mode="fallback")
    completion = await openai_client.chat.completions.create(model="az-keys", messages=HELLO)
    assert completion.choices[0].message.content == "".join(WORDS)
    assert len(mock_upstream.received(model=good)) == 1


async def test_an_entra_token_is_sent_as_bearer(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    deployment = unique("az-entra")
    await azure_model(
        models,
        "az-entra",
        deployment,
        auth={"header_name": "Authorization", "header_prefix": "Bearer ", "space_after_prefix": False},
    )
    completion = await openai_client.chat.completions.create(model="az-entra", messages=HELLO)
    assert completion.choices[0].message.content == "".join(WORDS)
    (sent,) = mock_upstream.received(model=deployment)
    assert sent.headers["Authorization"].startswith("Bearer sk-upstream-secret-") and "api-key" not in sent.headers


async def test_embeddings(models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    deployment = unique("az-embed")
    await azure_model(models, "az-embed", deployment, model_type="text-embeddings-inference")
    answer = await openai_client.embeddings.create(model="az-embed", input=["one", "two"])
    assert answer.data[1].embedding == pytest.approx(vector("two"))
    (sent,) = mock_upstream.received(model=deployment)
    assert sent.path == f"/openai/deployments/{deployment}/embeddings" and sent.query["api-version"] == API_VERSION
