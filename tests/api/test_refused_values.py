"""Values a database would refuse (too-large integers, NUL characters) are a 4xx on every store, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

H = dict[str, str]
BIG = 3_000_000_000
HUGE = 10**20


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/api/v1/users/{BIG}", None),
        ("GET", f"/api/v1/users/{HUGE}", None),
        ("DELETE", f"/api/v1/organizations/{BIG}", None),
        ("GET", f"/api/v1/users?id={BIG}", None),
        ("GET", f"/api/v1/users?offset={HUGE}", None),
        ("POST", "/api/v1/users/search", {"filters": [{"field": "id", "op": "eq", "values": [BIG]}]}),
        ("POST", "/api/v1/users/search", {"filters": [{"field": "id", "op": "eq", "values": [HUGE]}]}),
        ("POST", "/api/v1/users/search", {"offset": HUGE}),
        ("POST", "/api/v1/users", {"email": "x@example.com", "role_id": BIG}),
        ("POST", "/api/v1/users", {"email": "x@example.com", "organization_id": HUGE}),
        ("POST", "/api/v1/keys", {"name": "k", "user_id": BIG}),
        ("POST", "/api/v1/organizations", {"name": "a\u0000b"}),
        ("PATCH", "/api/v1/me", {"name": "a\u0000b"}),
        ("POST", "/api/v1/users/search", {"filters": [{"field": "email", "op": "eq", "values": ["\u0000"]}]}),
        ("GET", "/api/v1/users?email=%00", None),
        ("POST", "/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "whatever"}),
    ],
)
async def test_refused_values_are_client_errors(
    client: httpx.AsyncClient, admin_headers: H, method: str, url: str, body: dict[str, Any] | None
) -> None:
    answer = await client.request(method, url, json=body, headers=admin_headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()["error"]) == {"message", "type", "code", "param"}
    organizations = (await client.get("/api/v1/organizations", headers=admin_headers)).json()
    assert organizations["total"] == 0


async def test_a_non_json_content_type_is_415(client: httpx.AsyncClient, admin_headers: H) -> None:
    answer = await client.post(
        "/api/v1/organizations", content=b'{"name": "x"}', headers=admin_headers | {"content-type": "text/plain"}
    )
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "unsupported_media_type"
    empty = await client.post("/api/v1/organizations", headers=admin_headers)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "missing_body"
