from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from switchyard.services.platform import Platform

H = dict[str, str]
OPENAI = {
    "name": "openai-gpt4o",
    "wire_format": "openai",
    "base_url": "https://api.openai.com/v1/",
    "upstream_model": "gpt-4o",
    "api_key": "sk-live-this-is-a-very-secret-provider-key",
    "total_params_b": 200,
    "active_params_b": 100,
    "hosting_zone": "usa",
}


async def _provider(client: httpx.AsyncClient, headers: H, **overrides: Any) -> dict[str, Any]:
    answer = await client.post("/api/v1/providers", json=OPENAI | overrides, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_provider_key_is_sealed_and_masked(app: FastAPI, client: httpx.AsyncClient, admin_headers: H) -> None:
    provider = await _provider(client, admin_headers)
    assert provider["base_url"] == "https://api.openai.com/v1"
    assert provider["endpoint"] == {
        "scheme": "https",
        "host": "api.openai.com",
        "port": None,
        "base_path": "/v1",
    }
    assert provider["api_key_hint"] == "****-key" and "api_key" not in provider
    assert provider["hosting_zone"] == "USA" and provider["auth"]["header_name"] == "Authorization"
    platform: Platform = app.state.platform
    async with platform.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT sealed_api_key FROM providers"))).scalar_one()
    assert OPENAI["api_key"] not in raw
    cleared = await client.patch(f"/api/v1/providers/{provider['id']}", json={"api_key": None}, headers=admin_headers)
    assert cleared.json()["api_key_hint"] is None


async def test_endpoint_parts_paths_and_auth(client: httpx.AsyncClient, admin_headers: H) -> None:
    body = {key: value for key, value in OPENAI.items() if key != "base_url"} | {
        "name": "together",
        "endpoint": {"scheme": "https", "host": "api.together.xyz", "port": 443, "base_path": "/v1"},
        "paths": {"chat": "/chat/completions", "completions": "/completions"},
        "auth": {"header_name": "x-api-key", "header_prefix": "", "space_after_prefix": False},
    }
    answer = await client.post("/api/v1/providers", json=body, headers=admin_headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["base_url"] == "https://api.together.xyz:443/v1"
    assert answer.json()["paths"] == {"chat": "/chat/completions", "completions": "/completions"}


async def test_provider_validation(client: httpx.AsyncClient, admin_headers: H) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (OPENAI | {"base_url": "ftp://x"}, 422, "base_url"),
        (OPENAI | {"wire_format": "smoke-signals"}, 422, "wire_format"),
        (OPENAI | {"endpoint": {"host": "a.b"}}, 422, None),
        (OPENAI | {"wire_format": "azure_openai"}, 422, None),
        (OPENAI | {"paths": {"teleport": "/x"}}, 422, "paths.teleport.[key]"),
        (OPENAI | {"paths": {"chat": "no-slash"}}, 422, "paths.chat"),
        (OPENAI | {"extra_headers": {"bad header": "x"}}, 422, "extra_headers.bad header.[key]"),
        (OPENAI | {"credential_id": 404}, 422, "credential_id"),
        (OPENAI | {"hosting_zone": "FRANCE"}, 422, "hosting_zone"),
        (OPENAI | {"weight": -1}, 422, "weight"),
    ]
    for body, status, param in cases:
        answer = await client.post("/api/v1/providers", json=body, headers=admin_headers)
        assert answer.status_code == status, (body, answer.text)
        if param is not None:
            assert answer.json()["error"]["param"] == param, answer.text
    assert (await client.get("/api/v1/providers", headers=admin_headers)).json()["total"] == 0


async def test_router_lifecycle(client: httpx.AsyncClient, admin_headers: H) -> None:
    first = await _provider(client, admin_headers)
    second = await _provider(client, admin_headers, name="backup", priority=5)
    created = await client.post(
        "/api/v1/routers",
        json={
            "name": "gpt-4o",
            "aliases": ["default-chat"],
            "model_type": "text-generation",
            "mode": "fallback",
            "strategy": "shuffle",
            "providers": [{"provider_id": first["id"]}, {"provider_id": second["id"], "priority": 1}],
            "cost_prompt_tokens": 2.5,
            "cost_completion_tokens": 10,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    router = created.json()
    assert router["strategy"] == "weighted" and router["mode"] == "fallback"
    assert router["providers"] == [
        {"provider_id": first["id"], "weight": None, "priority": None},
        {"provider_id": second["id"], "weight": None, "priority": 1},
    ]
    in_use = await client.delete(f"/api/v1/providers/{first['id']}", headers=admin_headers)
    assert in_use.status_code == 409
    patched = await client.patch(
        f"/api/v1/routers/{router['id']}",
        json={"providers": [{"provider_id": second["id"]}]},
        headers=admin_headers,
    )
    assert [m["provider_id"] for m in patched.json()["providers"]] == [second["id"]]
    assert (await client.delete(f"/api/v1/providers/{first['id']}", headers=admin_headers)).status_code == 200
    found = await client.post(
        "/api/v1/routers/search",
        json={"filters": [{"field": "model_type", "op": "eq", "values": ["text-generation"]}]},
        headers=admin_headers,
    )
    assert found.json()["total"] == 1
    assert (await client.delete(f"/api/v1/routers/{router['id']}", headers=admin_headers)).status_code == 200
    assert (await client.delete(f"/api/v1/providers/{second['id']}", headers=admin_headers)).status_code == 200


async def test_router_names_and_aliases_are_unique(client: httpx.AsyncClient, admin_headers: H) -> None:
    base = {"model_type": "text-embeddings-inference"}
    ok = await client.post("/api/v1/routers", json=base | {"name": "embed", "aliases": ["e5"]}, headers=admin_headers)
    assert ok.status_code == 201
    for body, status, param in [
        (base | {"name": "e5"}, 409, "name"),
        (base | {"name": "other", "aliases": ["embed"]}, 409, "aliases"),
        (base | {"name": "x", "aliases": ["y", "y"]}, 422, "aliases"),
        (base | {"name": "x", "providers": [{"provider_id": 999}]}, 422, "providers.0.provider_id"),
        (base | {"name": "has space"}, 422, "name"),
        (base | {"name": "x", "strategy": "psychic"}, 422, "strategy"),
    ]:
        answer = await client.post("/api/v1/routers", json=body, headers=admin_headers)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["param"] == param
    assert (await client.get("/api/v1/routers", headers=admin_headers)).json()["total"] == 1


async def test_credential_in_use_by_a_provider_cannot_be_deleted(client: httpx.AsyncClient, admin_headers: H) -> None:
    credential = await client.post(
        "/api/v1/credentials",
        json={
            "name": "openai-key",
            "type": "provider",
            "data": {"api_key": "sk-from-a-credential-0123456789"},
        },
        headers=admin_headers,
    )
    assert credential.status_code == 201, credential.text
    provider = await _provider(client, admin_headers, api_key=None, credential_id=credential.json()["id"])
    assert provider["credential_id"] == credential.json()["id"] and provider["api_key_hint"] is None
    refused = await client.delete(f"/api/v1/credentials/{credential.json()['id']}", headers=admin_headers)
    assert refused.status_code == 409
    await client.delete(f"/api/v1/providers/{provider['id']}", headers=admin_headers)
    assert (
        await client.delete(f"/api/v1/credentials/{credential.json()['id']}", headers=admin_headers)
    ).status_code == 200
