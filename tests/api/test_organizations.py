from __future__ import annotations

import httpx


async def test_create_list_get_update_delete(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await client.post("/api/v1/organizations", json={"name": "acme", "budget": 50}, headers=admin_headers)
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["object"] == "organization" and org["name"] == "acme" and org["budget"] == 50

    listed = (await client.get("/api/v1/organizations", headers=admin_headers)).json()
    assert listed["object"] == "list" and listed["total"] == 1 and listed["data"][0]["id"] == org["id"]

    patched = await client.patch(f"/api/v1/organizations/{org['id']}", json={"name": "acme2"}, headers=admin_headers)
    assert patched.json()["name"] == "acme2" and patched.json()["budget"] == 50

    deleted = await client.delete(f"/api/v1/organizations/{org['id']}", headers=admin_headers)
    assert deleted.json() == {"id": org["id"], "object": "organization", "deleted": True}
    missing = await client.get(f"/api/v1/organizations/{org['id']}", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


async def test_duplicate_name_is_409_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post("/api/v1/organizations", json={"name": "acme"}, headers=admin_headers)
    again = await client.post("/api/v1/organizations", json={"name": "acme"}, headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["error"]["param"] == "name"
    assert (await client.get("/api/v1/organizations", headers=admin_headers)).json()["total"] == 1


async def test_list_paging_sorting_and_search(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for name in ["beta", "alpha", "gamma", "alphabet"]:
        await client.post("/api/v1/organizations", json={"name": name}, headers=admin_headers)
    page = (
        await client.get(
            "/api/v1/organizations",
            params={"order_by": "name", "order_direction": "desc", "limit": 2, "offset": 1},
            headers=admin_headers,
        )
    ).json()
    assert [o["name"] for o in page["data"]] == ["beta", "alphabet"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)

    found = await client.post(
        "/api/v1/organizations/search",
        json={
            "filters": [{"field": "name", "op": "startsWith", "values": ["ALPHA"]}],
            "sort": [{"field": "name"}],
        },
        headers=admin_headers,
    )
    assert [o["name"] for o in found.json()["data"]] == ["alpha", "alphabet"]

    regex = await client.post(
        "/api/v1/organizations/search",
        json={"filters": [{"field": "name", "op": "regex", "values": ["^(beta|gamma)$"]}]},
        headers=admin_headers,
    )
    assert sorted(o["name"] for o in regex.json()["data"]) == ["beta", "gamma"]

    in_filter = await client.get("/api/v1/organizations?name=beta&name=gamma", headers=admin_headers)
    assert in_filter.json()["total"] == 2


async def test_search_rejects_unknown_field_and_op(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for body, param in [
        ({"filters": [{"field": "nope", "op": "eq", "values": [1]}]}, "nope"),
        ({"filters": [{"field": "name", "op": "like", "values": ["a"]}]}, "filters.0.op"),
        ({"filters": [{"field": "id", "op": "gt", "values": ["x"]}]}, "id"),
        ({"filters": [{"field": "name", "op": "regex", "values": ["("]}]}, "name"),
        ({"sort": [{"field": "nope"}]}, "nope"),
    ]:
        answer = await client.post("/api/v1/organizations/search", json=body, headers=admin_headers)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["param"] == param


async def test_delete_with_members_is_409(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    org = (await client.post("/api/v1/organizations", json={"name": "acme"}, headers=admin_headers)).json()
    me = (await client.get("/api/v1/me", headers=admin_headers)).json()
    await client.patch(f"/api/v1/users/{me['id']}", json={"organization_id": org["id"]}, headers=admin_headers)
    answer = await client.delete(f"/api/v1/organizations/{org['id']}", headers=admin_headers)
    assert answer.status_code == 409
    assert (await client.get(f"/api/v1/organizations/{org['id']}", headers=admin_headers)).status_code == 200
