from __future__ import annotations

import httpx

from tests.conftest import CallerFactory

H = dict[str, str]


async def test_user_lifecycle_and_defaults(client: httpx.AsyncClient, admin_headers: H) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": " Alice@Example.COM ", "name": "Alice", "password": "s3cret-pass", "priority": 5},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "alice@example.com" and user["priority"] == 5
    assert "password" not in user and "password_hash" not in user
    roles = (await client.get("/api/v1/roles", params={"name": "user"}, headers=admin_headers)).json()
    assert user["role_id"] == roles["data"][0]["id"]

    updated = await client.patch(f"/api/v1/users/{user['id']}", json={"budget": 12.5}, headers=admin_headers)
    assert updated.json()["budget"] == 12.5
    found = await client.post(
        "/api/v1/users/search",
        json={"filters": [{"field": "email", "op": "contains", "values": ["ALICE"]}]},
        headers=admin_headers,
    )
    assert [u["id"] for u in found.json()["data"]] == [user["id"]]
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers)).status_code == 200
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=admin_headers)).status_code == 404


async def test_user_references_must_exist(client: httpx.AsyncClient, admin_headers: H) -> None:
    for field in ["role_id", "organization_id"]:
        answer = await client.post(
            "/api/v1/users", json={"email": "bob@example.com", field: 999}, headers=admin_headers
        )
        assert answer.status_code == 422 and answer.json()["error"]["param"] == field
    assert (await client.get("/api/v1/users", headers=admin_headers)).json()["total"] == 1  # the admin only


async def test_duplicate_email_is_409(client: httpx.AsyncClient, admin_headers: H) -> None:
    await client.post("/api/v1/users", json={"email": "bob@example.com"}, headers=admin_headers)
    again = await client.post("/api/v1/users", json={"email": "BOB@example.com"}, headers=admin_headers)
    assert again.status_code == 409 and again.json()["error"]["param"] == "email"


async def test_role_in_use_cannot_be_deleted(client: httpx.AsyncClient, admin_headers: H) -> None:
    role = (await client.post("/api/v1/roles", json={"name": "dev"}, headers=admin_headers)).json()
    user = (
        await client.post(
            "/api/v1/users", json={"email": "c@example.com", "role_id": role["id"]}, headers=admin_headers
        )
    ).json()
    assert (await client.delete(f"/api/v1/roles/{role['id']}", headers=admin_headers)).status_code == 409
    await client.delete(f"/api/v1/users/{user['id']}", headers=admin_headers)
    assert (await client.delete(f"/api/v1/roles/{role['id']}", headers=admin_headers)).status_code == 200


async def test_role_permissions_and_limits_are_validated(client: httpx.AsyncClient, admin_headers: H) -> None:
    ok = await client.post(
        "/api/v1/roles",
        json={
            "name": "limited",
            "permissions": ["read_usage", "manage_keys"],
            "limits": [{"router": "gpt-4o", "type": "rpm", "value": 60}, {"type": "tpd", "value": 100000}],
        },
        headers=admin_headers,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["permissions"] == ["manage_keys", "read_usage"]
    assert ok.json()["limits"][1] == {"router": "*", "type": "tpd", "value": 100000}
    for body, param in [
        ({"name": "x", "permissions": ["fly"]}, "permissions"),
        ({"name": "x", "limits": [{"type": "rph", "value": 1}]}, "limits.0.type"),
        ({"name": "x", "limits": [{"type": "rpm", "value": -1}]}, "limits.0.value"),
        ({"name": "x", "limits": [{"type": "rpm", "value": 1}, {"type": "rpm", "value": 2}]}, "limits"),
    ]:
        answer = await client.post("/api/v1/roles", json=body, headers=admin_headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["param"] == param


async def test_user_manager_cannot_escalate(
    client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory
) -> None:
    manager = await new_caller("manage_users")
    admin_role = (await client.get("/api/v1/roles", params={"name": "admin"}, headers=admin_headers)).json()["data"][0]
    escalate = await client.post(
        "/api/v1/users",
        json={"email": "evil@example.com", "role_id": admin_role["id"]},
        headers=manager["headers"],
    )
    assert escalate.status_code == 403
    me = (await client.get("/api/v1/me", headers=manager["headers"])).json()
    self_promote = await client.patch(
        f"/api/v1/users/{me['id']}", json={"role_id": admin_role["id"]}, headers=manager["headers"]
    )
    assert self_promote.status_code == 403
    admin_id = (await client.get("/api/v1/me", headers=admin_headers)).json()["id"]
    touch_admin = await client.patch(f"/api/v1/users/{admin_id}", json={"name": "x"}, headers=manager["headers"])
    assert touch_admin.status_code == 403
    plain = await client.post("/api/v1/users", json={"email": "ok@example.com"}, headers=manager["headers"])
    assert plain.status_code == 201
    creating_role = await client.post("/api/v1/roles", json={"name": "mine"}, headers=manager["headers"])
    assert creating_role.status_code == 403


async def test_cannot_delete_self(client: httpx.AsyncClient, admin_headers: H) -> None:
    me = (await client.get("/api/v1/me", headers=admin_headers)).json()
    assert (await client.delete(f"/api/v1/users/{me['id']}", headers=admin_headers)).status_code == 409


async def test_role_change_takes_effect_on_cached_keys(
    client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory
) -> None:
    caller = await new_caller("read_audit")
    assert (await client.get("/api/v1/audit-logs", headers=caller["headers"])).status_code == 200
    await client.patch(f"/api/v1/roles/{caller['role']['id']}", json={"permissions": []}, headers=admin_headers)
    assert (await client.get("/api/v1/audit-logs", headers=caller["headers"])).status_code == 403
