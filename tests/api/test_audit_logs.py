from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from switchyard.services.platform import Platform
from switchyard.services.tokens import hash_secret
from switchyard.settings import Settings
from switchyard.store.tables import ApiKeyRow, UserRow
from tests.conftest import ADMIN_KEY, CallerFactory

URL = "/api/v1/audit-logs"
SECRET_TOKEN = "hf_audit_canary_value_0123456789"


async def _admin_actor(platform: Platform, settings: Settings) -> dict[str, Any]:
    """The actor fields every entry made with ``ADMIN_KEY`` must carry."""
    async with platform.transaction() as session:
        user_id = (await session.execute(select(UserRow.id).where(UserRow.email == settings.admin_email))).scalar_one()
        key_id = (
            await session.execute(select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == hash_secret(ADMIN_KEY)))
        ).scalar_one()
    return {
        "actor_user_id": user_id,
        "actor_email": settings.admin_email,
        "actor_key_id": key_id,
        "client_ip": "127.0.0.1",
        "outcome": "success",
        "object": "audit_log",
    }


async def _entries(client: httpx.AsyncClient, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    answer = await client.get(URL, params=filters, headers=headers)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def test_credential_mutations_are_audited_without_values(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform, settings: Settings
) -> None:
    body = {"name": "hub", "type": "hf", "data": {"token": SECRET_TOKEN}}
    cred = (await client.post("/api/v1/credentials", json=body, headers=admin_headers)).json()
    path = f"/api/v1/credentials/{cred['id']}"
    await client.patch(path, json={"data": {"token": SECRET_TOKEN + "-v2"}, "description": "d"}, headers=admin_headers)
    await client.delete(path, headers=admin_headers)

    entries = await _entries(client, admin_headers, entity_type="credential")
    assert [e["action"] for e in entries] == ["credential.delete", "credential.update", "credential.create"]
    actor = await _admin_actor(platform, settings)
    for entry in entries:
        assert {name: entry[name] for name in actor} == actor
        assert entry["entity_type"] == "credential" and entry["entity_id"] == str(cred["id"])
        assert SECRET_TOKEN[-8:] not in entry["summary"]
    delete, update, create = (e["summary"] for e in entries)
    assert create == "created hf credential 'hub' with keys token"
    assert update == "changed data, description; data keys now token"
    assert delete == "deleted credential 'hub'"


async def test_rejected_changes_leave_no_entry(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = {"name": "hub", "type": "hf", "data": {"token": "a"}}
    cred = (await client.post("/api/v1/credentials", json=body, headers=admin_headers)).json()
    assert (await client.post("/api/v1/credentials", json=body, headers=admin_headers)).status_code == 409
    bad_data = {"data": {"api_key": "x"}}
    assert (
        await client.patch(f"/api/v1/credentials/{cred['id']}", json=bad_data, headers=admin_headers)
    ).status_code == 422
    assert (await client.delete("/api/v1/credentials/999", headers=admin_headers)).status_code == 404
    entries = await _entries(client, admin_headers, entity_type="credential")
    assert [e["action"] for e in entries] == ["credential.create"]


async def test_organization_mutations_are_audited(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform, settings: Settings
) -> None:
    org = (await client.post("/api/v1/organizations", json={"name": "acme"}, headers=admin_headers)).json()
    await client.patch(f"/api/v1/organizations/{org['id']}", json={"budget": 10}, headers=admin_headers)
    await client.delete(f"/api/v1/organizations/{org['id']}", headers=admin_headers)

    found = await client.post(
        f"{URL}/search",
        json={"filters": [{"field": "entity_type", "op": "eq", "values": ["organization"]}]},
        headers=admin_headers,
    )
    entries = found.json()["data"]
    assert [e["action"] for e in entries] == [
        "organization.delete",
        "organization.update",
        "organization.create",
    ]
    actor = await _admin_actor(platform, settings)
    for entry in entries:
        assert {name: entry[name] for name in actor} == actor
        assert entry["entity_id"] == str(org["id"])
    assert entries[1]["summary"] == "changed budget"


async def test_newest_first_unless_sorted(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for name in ["a", "b", "c"]:
        await client.post("/api/v1/organizations", json={"name": name}, headers=admin_headers)

    listed = (await client.get(URL, headers=admin_headers)).json()
    ids = [e["id"] for e in listed["data"]]
    assert listed["total"] == len(ids) >= 5  # the bootstrap's two entries and ours
    assert ids == sorted(ids, reverse=True)
    times = [datetime.fromisoformat(e["created_at"]) for e in listed["data"]]
    assert times == sorted(times, reverse=True)
    assert [e["action"] for e in listed["data"][:3]] == ["organization.create"] * 3
    assert listed["data"][-1]["action"] == "user.create"  # the first thing the bootstrap did

    searched = (await client.post(f"{URL}/search", json={}, headers=admin_headers)).json()
    assert [e["id"] for e in searched["data"]] == ids

    paged = (await client.get(URL, params={"limit": 2, "offset": 1}, headers=admin_headers)).json()
    assert [e["id"] for e in paged["data"]] == ids[1:3]

    oldest_first = (await client.get(URL, params={"order_by": "id"}, headers=admin_headers)).json()
    assert [e["id"] for e in oldest_first["data"]] == sorted(ids)
    sorted_search = await client.post(
        f"{URL}/search", json={"sort": [{"field": "action", "order": "asc"}]}, headers=admin_headers
    )
    actions = [e["action"] for e in sorted_search.json()["data"]]
    assert actions == sorted(actions)


async def test_search_filters(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for name in ["a", "b"]:
        await client.post("/api/v1/organizations", json={"name": name}, headers=admin_headers)
    everything = (await client.get(URL, headers=admin_headers)).json()["data"]
    middle = everything[1]

    after = await client.post(
        f"{URL}/search",
        json={"filters": [{"field": "id", "op": "gt", "values": [middle["id"]]}]},
        headers=admin_headers,
    )
    assert [e["id"] for e in after.json()["data"]] == [e["id"] for e in everything if e["id"] > middle["id"]]

    by_action = await client.post(
        f"{URL}/search",
        json={
            "filters": [
                {"field": "action", "op": "in", "values": ["key.create", "user.create"]},
                {"field": "actor_email", "op": "eq", "values": [None]},
            ]
        },
        headers=admin_headers,
    )
    assert [e["action"] for e in by_action.json()["data"]] == ["key.create", "user.create"]

    by_ip = await _entries(client, admin_headers, client_ip="127.0.0.1", outcome="success")
    assert [e["action"] for e in by_ip] == ["organization.create", "organization.create"]


async def test_filter_on_created_at(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await client.post("/api/v1/organizations", json={"name": "a"}, headers=admin_headers)
    everything = (await client.get(URL, headers=admin_headers)).json()["data"]
    newest = everything[0]

    def search(op: str, value: str) -> dict[str, Any]:
        return {"filters": [{"field": "created_at", "op": op, "values": [value]}]}

    since = await client.post(f"{URL}/search", json=search("gt", "2000-01-01T00:00:00Z"), headers=admin_headers)
    assert since.status_code == 200, since.text
    assert since.json()["total"] == len(everything)
    before = await client.post(f"{URL}/search", json=search("lt", newest["created_at"]), headers=admin_headers)
    assert [e["id"] for e in before.json()["data"]] == [e["id"] for e in everything[1:]]
    exact = await client.get(URL, params={"created_at": newest["created_at"]}, headers=admin_headers)
    assert [e["id"] for e in exact.json()["data"]] == [newest["id"]]
    bad = await client.post(f"{URL}/search", json=search("gt", "yesterday"), headers=admin_headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "created_at"


@pytest.mark.parametrize("field", ["summary", "nope"])
async def test_unknown_field_is_400(client: httpx.AsyncClient, admin_headers: dict[str, str], field: str) -> None:
    answer = await client.post(
        f"{URL}/search",
        json={"filters": [{"field": field, "op": "eq", "values": ["x"]}]},
        headers=admin_headers,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == field
    assert "Searchable fields: action, actor_email" in answer.json()["error"]["message"]
    unknown_sort = await client.post(f"{URL}/search", json={"sort": [{"field": field}]}, headers=admin_headers)
    assert unknown_sort.status_code == 400 and unknown_sort.json()["error"]["param"] == field


async def test_log_is_append_only(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    before = (await client.get(URL, headers=admin_headers)).json()
    first = before["data"][-1]["id"]
    for answer in [
        await client.post(URL, json={"action": "x", "entity_type": "y"}, headers=admin_headers),
        await client.patch(f"{URL}/{first}", json={"summary": "x"}, headers=admin_headers),
        await client.delete(f"{URL}/{first}", headers=admin_headers),
    ]:
        assert answer.status_code in {404, 405}, answer.text
    assert (await client.get(URL, headers=admin_headers)).json() == before


async def test_needs_read_audit(client: httpx.AsyncClient, new_caller: CallerFactory) -> None:
    manager = (await new_caller("manage_users", "manage_credentials", "manage_keys"))["headers"]
    for answer in [
        await client.get(URL, headers=manager),
        await client.post(f"{URL}/search", json={}, headers=manager),
    ]:
        assert answer.status_code == 403, answer.text
        assert "read_audit" in answer.json()["error"]["message"]
    assert (await client.get(URL)).status_code == 401

    reader = (await new_caller("read_audit"))["headers"]
    assert (await client.get(URL, headers=reader)).json()["total"] >= 2
