from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import ADMIN_PASSWORD, CallerFactory

H = dict[str, str]


async def test_key_secret_shown_once_and_works(client: httpx.AsyncClient, admin_headers: H) -> None:
    created = await client.post(
        "/api/v1/keys", json={"name": "ci", "allowed_routers": ["gpt-4o"]}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("sy-") and len(key["key"]) >= 3 + 43
    assert key["prefix"] == key["key"][: len(key["prefix"])] and key["status"] == "active"
    fetched = (await client.get(f"/api/v1/keys/{key['id']}", headers=admin_headers)).json()
    assert "key" not in fetched and fetched["allowed_routers"] == ["gpt-4o"]
    listed = (await client.get("/api/v1/keys", headers=admin_headers)).json()
    assert all("key" not in k for k in listed["data"])
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})
    assert me.status_code == 200 and me.json()["role"]["name"] == "admin"


async def test_revoked_and_deleted_keys_stop_working(client: httpx.AsyncClient, admin_headers: H) -> None:
    key = (await client.post("/api/v1/keys", json={"name": "tmp"}, headers=admin_headers)).json()
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    revoked = await client.patch(f"/api/v1/keys/{key['id']}", json={"status": "revoked"}, headers=admin_headers)
    assert revoked.json()["status"] == "revoked"
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    again = await client.patch(f"/api/v1/keys/{key['id']}", json={"status": "active"}, headers=admin_headers)
    assert again.status_code == 409
    key2 = (await client.post("/api/v1/keys", json={"name": "tmp2"}, headers=admin_headers)).json()
    headers2 = {"Authorization": f"Bearer {key2['key']}"}
    assert (await client.get("/api/v1/me", headers=headers2)).status_code == 200
    await client.delete(f"/api/v1/keys/{key2['id']}", headers=admin_headers)
    assert (await client.get("/api/v1/me", headers=headers2)).status_code == 401


async def test_expiry(client: httpx.AsyncClient, admin_headers: H) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    answer = await client.post("/api/v1/keys", json={"name": "old", "expires_at": past}, headers=admin_headers)
    assert answer.status_code == 422 and answer.json()["error"]["param"] == "expires_at"
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ok = await client.post("/api/v1/keys", json={"name": "new", "expires_at": soon}, headers=admin_headers)
    assert ok.status_code == 201
    user = (
        await client.post(
            "/api/v1/users", json={"email": "gone@example.com", "expires_at": past}, headers=admin_headers
        )
    ).json()
    key = (await client.post("/api/v1/keys", json={"name": "x", "user_id": user["id"]}, headers=admin_headers)).json()
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})).status_code == 401


async def test_users_see_only_their_own_keys(
    client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory
) -> None:
    alice, bob = await new_caller(), await new_caller()
    own = await client.post("/api/v1/keys", json={"name": "mine"}, headers=alice["headers"])
    assert own.status_code == 201 and own.json()["user_id"] == alice["user"]["id"]
    listed = (await client.get("/api/v1/keys", headers=alice["headers"])).json()
    assert {k["user_id"] for k in listed["data"]} == {alice["user"]["id"]} and listed["total"] == 2
    bobs_key = bob["key"]["id"]
    assert (await client.get(f"/api/v1/keys/{bobs_key}", headers=alice["headers"])).status_code == 404
    assert (await client.delete(f"/api/v1/keys/{bobs_key}", headers=alice["headers"])).status_code == 404
    for_bob = await client.post(
        "/api/v1/keys", json={"name": "x", "user_id": bob["user"]["id"]}, headers=alice["headers"]
    )
    assert for_bob.status_code == 403
    searched = await client.post(
        "/api/v1/keys/search",
        json={"filters": [{"field": "user_id", "op": "eq", "values": [bob["user"]["id"]]}]},
        headers=alice["headers"],
    )
    assert searched.json()["total"] == 0
    keys_manager = await new_caller("manage_keys")
    assert (await client.get(f"/api/v1/keys/{bobs_key}", headers=keys_manager["headers"])).status_code == 200


async def test_login_logout_and_audit(client: httpx.AsyncClient, admin_headers: H) -> None:
    bad = await client.post("/api/v1/auth/login", json={"email": "admin@localhost", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
    unknown = await client.post("/api/v1/auth/login", json={"email": "who@example.com", "password": "wrong"})
    assert unknown.status_code == 401 and unknown.json()["error"]["message"] == bad.json()["error"]["message"]
    good = await client.post("/api/v1/auth/login", json={"email": "admin@localhost", "password": ADMIN_PASSWORD})
    assert good.status_code == 200, good.text
    session = good.json()
    assert session["token"].startswith("sy-sess-") and session["user"]["email"] == "admin@localhost"
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=headers)).json()["revoked"] is True
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 401

    logs = (
        await client.post(
            "/api/v1/audit-logs/search",
            json={
                "filters": [{"field": "action", "op": "startsWith", "values": ["auth."]}],
                "sort": [{"field": "id"}],
            },
            headers=admin_headers,
        )
    ).json()["data"]
    assert [(e["action"], e["outcome"]) for e in logs] == [
        ("auth.login", "failure"),
        ("auth.login", "failure"),
        ("auth.login", "success"),
        ("auth.logout", "success"),
    ]
    assert logs[1]["actor_email"] == "who@example.com" and logs[2]["actor_user_id"] == session["user"]["id"]
    assert all("wrong" not in e["summary"] and ADMIN_PASSWORD not in e["summary"] for e in logs)


async def test_me_changes_need_current_password(client: httpx.AsyncClient, new_caller: CallerFactory) -> None:
    caller = await new_caller(password="first-password")
    headers = caller["headers"]
    assert (await client.patch("/api/v1/me", json={"name": "New Name"}, headers=headers)).json()["name"] == "New Name"
    no_current = await client.patch("/api/v1/me", json={"password": "second-password"}, headers=headers)
    assert no_current.status_code == 403
    wrong = await client.patch(
        "/api/v1/me", json={"password": "second-password", "current_password": "nope"}, headers=headers
    )
    assert wrong.status_code == 403
    ok = await client.patch(
        "/api/v1/me",
        json={"password": "second-password", "current_password": "first-password"},
        headers=headers,
    )
    assert ok.status_code == 200
    email = caller["user"]["email"]
    old = await client.post("/api/v1/auth/login", json={"email": email, "password": "first-password"})
    new = await client.post("/api/v1/auth/login", json={"email": email, "password": "second-password"})
    assert (old.status_code, new.status_code) == (401, 200)
    short = await client.patch(
        "/api/v1/me", json={"password": "short", "current_password": "second-password"}, headers=headers
    )
    assert short.status_code == 422 and short.json()["error"]["param"] == "password"


async def test_permissions_listed(client: httpx.AsyncClient, new_caller: CallerFactory) -> None:
    caller = await new_caller()
    names = {p["name"] for p in (await client.get("/api/v1/permissions", headers=caller["headers"])).json()["data"]}
    assert {
        "admin",
        "manage_users",
        "manage_keys",
        "manage_providers",
        "manage_models",
        "read_usage",
        "read_metrics",
        "read_audit",
    } <= names
