"""The OpenAI-compatible front door, driven by the official openai SDK against the in-process app."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, CallerFactory, ModelFactory
from tests.mock_upstream.openai_dialect import TOOL_ARGUMENTS, WORDS, vector
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]


async def test_chat_completion(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await models.model("chat-a", "upstream-chat-a")
    raw = await openai_client.chat.completions.with_raw_response.create(
        model="chat-a",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.2,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    assert completion.usage.prompt_tokens_details and completion.usage.prompt_tokens_details.cached_tokens == 3
    assert len(raw.headers["x-request-id"]) >= 16 and float(raw.headers["x-switchyard-overhead-ms"]) >= 0
    sent = mock_upstream.received(model="upstream-chat-a")[-1]
    assert sent.body["model"] == "upstream-chat-a" and sent.body["temperature"] == 0.2
    assert sent.body["chat_template_kwargs"] == {"enable_thinking": False}  # unknown fields pass through
    assert sent.headers["Authorization"].startswith("Bearer sk-upstream-secret-")
    assert ADMIN_KEY not in str(sent.headers)


async def test_streaming_relays_chunks_and_usage_only_when_asked(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await models.model("chat-stream", "upstream-stream")
    stream = await openai_client.chat.completions.create(
        model="chat-stream", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"
    sent = mock_upstream.received(model="upstream-stream")[-1]
    assert sent.body["stream_options"] == {"include_usage": True}  # the gateway always asks

    with_usage = await openai_client.chat.completions.create(
        model="chat-stream",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in with_usage]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 17


async def test_streamed_tool_call_arguments(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await models.model("chat-tools", "upstream-tools")
    stream = await openai_client.chat.completions.create(
        model="chat-tools",
        messages=[{"role": "user", "content": "weather?"}],
        stream=True,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    )
    arguments, finish = "", None
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            arguments += call.function.arguments or "" if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert arguments == TOOL_ARGUMENTS and finish == "tool_calls"


async def test_embeddings_float_and_base64(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await models.model("embed-a", "upstream-embed", model_type="text-embeddings-inference")
    as_base64 = await openai_client.embeddings.create(model="embed-a", input=["one", "two"])  # the SDK's default
    as_float = await openai_client.embeddings.create(model="embed-a", input="one", encoding_format="float")
    assert as_base64.data[0].embedding == pytest.approx(vector("one"))
    assert as_float.data[0].embedding == pytest.approx(vector("one"))
    assert len(as_base64.data) == 2


async def test_completions(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await models.model("complete-a", "upstream-complete")
    completion = await openai_client.completions.create(model="complete-a", prompt="Say hello")
    assert completion.choices[0].text == "".join(WORDS)


async def test_models_list_get_and_key_scope(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, client: httpx.AsyncClient, new_caller: CallerFactory
) -> None:
    await models.model("visible", "upstream-v", aliases=["vis-alias"])
    await models.model("hidden", "upstream-h")
    listed = await openai_client.models.list()
    by_id = {m.id: m for m in listed.data}
    assert set(by_id) == {"visible", "hidden"}
    assert by_id["visible"].model_extra and by_id["visible"].model_extra["aliases"] == ["vis-alias"]
    assert (await openai_client.models.retrieve("vis-alias")).id == "visible"

    caller = await new_caller()
    key = await client.post(
        "/api/v1/keys", json={"name": "scoped", "allowed_routers": ["visible"]}, headers=caller["headers"]
    )
    scoped = openai.AsyncOpenAI(
        api_key=key.json()["key"], base_url="http://testserver/v1", http_client=client, max_retries=0
    )
    assert [m.id for m in (await scoped.models.list()).data] == ["visible"]
    with pytest.raises(openai.NotFoundError):
        await scoped.models.retrieve("hidden")
    with pytest.raises(openai.NotFoundError) as refused:
        await scoped.chat.completions.create(model="hidden", messages=[{"role": "user", "content": "x"}])
    assert refused.value.code == "model_not_found"
    answer = await scoped.chat.completions.create(model="vis-alias", messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].message.content


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b'{"model": "chat-bad", "messages": [', 400, None),
        (b'["not", "an", "object"]', 400, None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        (b'{"model": "chat-bad"}', 400, "messages"),
        (b'{"model": "chat-bad", "messages": "hello"}', 400, "messages"),
        (b'{"model": "chat-bad", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "stream"),
        (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (b'{"model": "embed-only", "messages": [{"role": "user", "content": "x"}]}', 400, "model"),
    ],
)
async def test_bad_input_gets_openai_errors(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, body: bytes, status: int, param: str | None
) -> None:
    await models.model("chat-bad", "upstream-bad")
    await models.model("embed-only", "upstream-embed-only", model_type="text-embeddings-inference")
    answer = await client.post(
        "/v1/chat/completions", content=body, headers=admin_headers | {"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["param"] == param
    assert "x-request-id" in answer.headers


async def test_no_key_wrong_key_oversize_and_wrong_method(client: httpx.AsyncClient, admin_headers: H) -> None:
    assert (await client.post("/v1/chat/completions", json={})).status_code == 401
    wrong = await client.post("/v1/chat/completions", json={}, headers={"Authorization": "Bearer sy-nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    huge = await client.post("/v1/chat/completions", content=b"x" * (11 * 1024 * 1024), headers=admin_headers)
    assert huge.status_code == 413
    assert (await client.get("/v1/chat/completions", headers=admin_headers)).status_code == 405
    assert (await client.post("/v1/teleport", headers=admin_headers)).status_code == 404


async def test_anthropic_style_key_header_is_accepted(models: ModelFactory, client: httpx.AsyncClient) -> None:
    await models.model("chat-xkey", "upstream-xkey")
    answer = await client.get("/v1/models", headers={"x-api-key": ADMIN_KEY})
    assert answer.status_code == 200 and answer.json()["data"][0]["id"] == "chat-xkey"


async def test_openapi_describes_the_inference_routes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert chat["operationId"] == "create_chat_completion"
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ChatCompletionRequest")
    assert "/v1/messages" in schema["paths"] and "/v1/embeddings" in schema["paths"]
    operation_ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


async def test_openapi_describes_the_v2_routes_in_the_protocols_shapes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    infer = paths["/v2/models/{model_name}/infer"]["post"]
    assert infer["tags"] == ["v2"] and infer["security"] == [{"bearer": []}]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert infer["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("V2InferenceResponse")
    assert infer["responses"]["default"]["content"]["application/json"]["schema"]["$ref"].endswith("V2Error")
    assert "security" not in paths["/v2/health/ready"]["get"]  # public, as served
    scoped = paths["/api/v1/deployments/{deployment_id}/v2/models/{model_name}/infer"]["post"]
    assert [p["name"] for p in scoped["parameters"]] == ["deployment_id", "model_name"]
    assert scoped["parameters"][0]["schema"] == {"type": "integer"}
    request = components["V2InferenceRequest"]
    assert request["required"] == ["inputs"] and "BF16" in str(components["V2RequestInput"])
    # every $ref resolves
    for ref in {m for m in str(schema).split("'$ref': '")[1:]}:
        name = ref.split("'")[0].rsplit("/", 1)[-1]
        assert name in components, name
