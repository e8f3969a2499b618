"""``POST /api/v1/providers/{id}/test``: a tiny request to one provider, answered as a report — an upstream that
fails is ``ok: false`` in a 200, never an error of the route."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import httpx

from tests.conftest import CallerFactory, ModelFactory
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]
KEYS = {"object", "ok", "latency_ms", "status", "error", "operation"}


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def _test(client: httpx.AsyncClient, headers: H, provider: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(f"/api/v1/providers/{provider['id']}/test", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == KEYS and body["object"] == "provider_test"
    return body


async def test_a_chat_provider_answers_a_one_token_ping(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    upstream = unique("ping-chat")
    provider = await models.provider(upstream, default_options={"temperature": 0})
    result = await _test(client, admin_headers, provider)
    assert (result["ok"], result["status"], result["error"], result["operation"]) == (True, 200, None, "chat")
    assert 0 < result["latency_ms"] < 5000
    [sent] = mock_upstream.received(model=upstream)
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
        "model": upstream,
        "temperature": 0,
    }
    assert sent.headers["Authorization"].startswith("Bearer sk-upstream-secret-")


async def test_a_failing_upstream_is_reported_not_raised(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    broken = await models.provider(unique("ping-fail-500"))
    result = await _test(client, admin_headers, broken)
    assert (result["ok"], result["status"], result["operation"]) == (False, 500, "chat")
    assert result["error"]["type"] == "upstream_error"
    assert "mock failure 500" in result["error"]["message"]

    rejected = await _test(client, admin_headers, await models.provider(unique("ping-fail-400")))
    assert (rejected["ok"], rejected["status"]) == (False, 400)
    assert rejected["error"] == {"message": "mock failure 400", "type": "invalid_request_error", "code": "mock_400"}

    malformed = await _test(client, admin_headers, await models.provider(unique("ping-malformed")))
    assert (malformed["ok"], malformed["status"]) == (False, 200)
    assert malformed["error"]["code"] == "upstream_invalid_json"


async def test_an_unreachable_upstream_has_no_status(client: httpx.AsyncClient, admin_headers: H) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    body = {
        "name": "nowhere",
        "wire_format": "openai",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "upstream_model": "m",
    }
    provider = (await client.post("/api/v1/providers", json=body, headers=admin_headers)).json()
    result = await _test(client, admin_headers, provider)
    assert (result["ok"], result["status"]) == (False, None)
    assert result["error"]["type"] == "service_unavailable"
    assert "Could not connect" in result["error"]["message"]


async def test_embedding_providers_are_sent_an_input(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    by_router = unique("ping-embed-router")
    served = await models.provider(by_router)
    await models.router(unique("embedder"), [served], model_type="text-embeddings-inference")
    by_capability = unique("ping-embed-capability")
    declared = await models.provider(by_capability, capabilities=["embeddings"])
    for provider, upstream in ((served, by_router), (declared, by_capability)):
        result = await _test(client, admin_headers, provider)
        assert (result["ok"], result["status"], result["operation"]) == (True, 200, "embeddings")
        [sent] = mock_upstream.received(model=upstream)
        assert (sent.path, sent.body) == ("/v1/embeddings", {"input": "ping", "model": upstream})

    both = await models.provider(unique("ping-both"), capabilities=["chat", "embeddings"])
    assert (await _test(client, admin_headers, both))["operation"] == "chat"


async def test_only_provider_managers_test_and_unknown_ids_are_404(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory
) -> None:
    provider = await models.provider(unique("ping-guarded"))
    reader = await new_caller("read_usage")
    refused = await client.post(f"/api/v1/providers/{provider['id']}/test", headers=reader["headers"])
    assert refused.status_code == 403
    manager = await new_caller("manage_providers")
    assert (await _test(client, manager["headers"], provider))["ok"] is True
    missing = await client.post("/api/v1/providers/987654/test", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Provider 987654 not found."
