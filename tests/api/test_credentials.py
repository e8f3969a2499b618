from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from switchyard.errors import NotFound
from switchyard.services.credentials import open_credential
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import UserRow
from tests.conftest import CallerFactory

URL = "/api/v1/credentials"
S3_KEY_ID = "AKIAEXAMPLEKEYID12345"
S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_DATA = {"access_key_id": S3_KEY_ID, "secret_access_key": S3_SECRET, "region": "eu-west-1"}


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await client.post(URL, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def _admin_id(platform: Platform, settings: Settings) -> int:
    async with platform.transaction() as session:
        user_id = (await session.execute(select(UserRow.id).where(UserRow.email == settings.admin_email))).scalar_one()
    return int(user_id)


async def test_create_list_get_update_delete(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform, settings: Settings
) -> None:
    cred = await _create(client, admin_headers, name="backups", type="s3", description="nightly", data=S3_DATA)
    assert cred["object"] == "credential" and cred["name"] == "backups" and cred["type"] == "s3"
    assert cred["description"] == "nightly"
    assert cred["owner_id"] == await _admin_id(platform, settings)
    assert cred["data"] == {"access_key_id": "****2345", "secret_access_key": "****EKEY", "region": "****"}

    listed = (await client.get(URL, headers=admin_headers)).json()
    assert listed["object"] == "list" and listed["total"] == 1 and listed["data"] == [cred]
    assert (await client.get(f"{URL}/{cred['id']}", headers=admin_headers)).json() == cred

    patched = await client.patch(
        f"{URL}/{cred['id']}", json={"name": "archive", "description": ""}, headers=admin_headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "archive" and patched.json()["description"] == ""
    assert patched.json()["data"] == cred["data"] and patched.json()["type"] == "s3"
    assert await open_credential(platform, cred["id"]) == S3_DATA

    deleted = await client.delete(f"{URL}/{cred['id']}", headers=admin_headers)
    assert deleted.json() == {"id": cred["id"], "object": "credential", "deleted": True}
    assert (await client.get(f"{URL}/{cred['id']}", headers=admin_headers)).status_code == 404
    with pytest.raises(NotFound):
        await open_credential(platform, cred["id"])


async def test_values_are_answered_masked_and_opened_only_internally(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    token = "hf_abcdefghijklmnopqrstuvwxyz0123"
    cred = await _create(client, admin_headers, name="hub", type="hf", data={"token": token})
    assert cred["data"] == {"token": "****0123"}
    answers = [
        await client.get(URL, headers=admin_headers),
        await client.get(f"{URL}/{cred['id']}", headers=admin_headers),
        await client.post(f"{URL}/search", json={}, headers=admin_headers),
        await client.patch(f"{URL}/{cred['id']}", json={"description": "the hub"}, headers=admin_headers),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert token not in answer.text and token[:-4] not in answer.text
    assert await open_credential(platform, cred["id"]) == {"token": token}


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("hf", {"token": "hf_token"}),
        ("ngc", {"api_key": "nvapi-key"}),
        ("s3", {"access_key_id": "id", "secret_access_key": "secret"}),
        ("s3", {**S3_DATA, "endpoint": "http://minio:9000", "bucket": "models"}),
        ("provider", {"api_key": "sk-key", "organization": "org-1"}),
        ("generic", {"anything": "goes", "MY_ENV-VAR.name": "x"}),
    ],
)
async def test_each_type_accepts_its_keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str], type_: str, data: dict[str, str]
) -> None:
    cred = await _create(client, admin_headers, name=f"ok-{type_}", type=type_, data=data)
    assert cred["type"] == type_ and sorted(cred["data"]) == sorted(data)


@pytest.mark.parametrize(
    ("type_", "data", "param"),
    [
        ("hf", {"api_key": "x"}, "data.token"),
        ("ngc", {"token": "x"}, "data.api_key"),
        ("s3", {"access_key_id": "x"}, "data.secret_access_key"),
        ("s3", {"secret_access_key": "x"}, "data.access_key_id"),
        ("provider", {"key": "x"}, "data.api_key"),
        ("s3", {**S3_DATA, "regoin": "eu"}, "data.regoin"),
        ("hf", {"token": "x", "username": "me"}, "data.username"),
    ],
)
async def test_missing_or_unknown_key_for_the_type_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], type_: str, data: dict[str, str], param: str
) -> None:
    answer = await client.post(URL, json={"name": "c", "type": type_, "data": data}, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["param"] == param and error["code"] == "validation_error"
    assert param in error["message"] and f"'{type_}'" in error["message"]
    assert (await client.get(URL, headers=admin_headers)).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "c", "type": "generic"}, "data"),
        ({"name": "c", "type": "generic", "data": {}}, "data"),
        ({"name": "c", "type": "hf", "data": {"token": ""}}, "data.token"),
        ({"name": "c", "type": "hf", "data": {"token": "   "}}, "data.token"),
        ({"name": "c", "type": "hf", "data": {"token": 12345}}, "data.token"),
        ({"name": "c", "type": "generic", "data": ["token"]}, "data"),
        ({"name": "c", "type": "gcs", "data": {"token": "x"}}, "type"),
        ({"name": " ", "type": "hf", "data": {"token": "x"}}, "name"),
        ({"name": "c", "type": "hf", "data": {"token": "x"}, "owner_id": 7}, "owner_id"),
    ],
)
async def test_malformed_body_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], param: str
) -> None:
    answer = await client.post(URL, json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"] == param


async def test_key_names_must_be_plain_identifiers(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = {"name": "c", "type": "generic", "data": {"bad key": "x"}}
    answer = await client.post(URL, json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"].startswith("data.bad key")


async def test_duplicate_name_is_409_on_create_and_rename(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _create(client, admin_headers, name="hub", type="hf", data={"token": "a"})
    other = await _create(client, admin_headers, name="other", type="hf", data={"token": "b"})
    again = await client.post(URL, json={"name": "hub", "type": "ngc", "data": {"api_key": "c"}}, headers=admin_headers)
    assert again.status_code == 409 and again.json()["error"]["param"] == "name"
    renamed = await client.patch(f"{URL}/{other['id']}", json={"name": "hub"}, headers=admin_headers)
    assert renamed.status_code == 409 and renamed.json()["error"]["param"] == "name"
    names = sorted(c["name"] for c in (await client.get(URL, headers=admin_headers)).json()["data"])
    assert names == ["hub", "other"]


async def test_unknown_id_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for answer in [
        await client.get(f"{URL}/999", headers=admin_headers),
        await client.patch(f"{URL}/999", json={"name": "x"}, headers=admin_headers),
        await client.delete(f"{URL}/999", headers=admin_headers),
    ]:
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["message"] == "Credential 999 not found."


async def test_patch_replaces_data_checked_against_the_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    cred = await _create(client, admin_headers, name="store", type="s3", data=S3_DATA)
    path = f"{URL}/{cred['id']}"

    incomplete = await client.patch(path, json={"data": {"access_key_id": "new-id"}}, headers=admin_headers)
    assert incomplete.status_code == 422 and incomplete.json()["error"]["param"] == "data.secret_access_key"
    unknown = await client.patch(path, json={"data": {**S3_DATA, "token": "t"}}, headers=admin_headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["param"] == "data.token"
    assert await open_credential(platform, cred["id"]) == S3_DATA

    new_data = {"access_key_id": "new-id", "secret_access_key": "new-secret-value-0000-9999"}
    replaced = await client.patch(path, json={"data": new_data}, headers=admin_headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["data"] == {"access_key_id": "****", "secret_access_key": "****9999"}
    assert await open_credential(platform, cred["id"]) == new_data, "data is replaced wholesale, not merged"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"type": "hf"}, "type"),
        ({"owner_id": 3}, "owner_id"),
        ({"name": None}, "name"),
        ({"data": None}, "data"),
        ({"description": None}, "description"),
        ({"data": {}}, "data"),
        ({"data": {"token": ""}}, "data.token"),
    ],
)
async def test_patch_rejects_type_change_nulls_and_empty_data(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], param: str
) -> None:
    cred = await _create(client, admin_headers, name="generic", type="generic", data={"token": "x"})
    answer = await client.patch(f"{URL}/{cred['id']}", json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"] == param
    assert (await client.get(f"{URL}/{cred['id']}", headers=admin_headers)).json() == cred


async def test_list_filters_and_search(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await _create(client, admin_headers, name="hub-prod", type="hf", data={"token": "a"})
    await _create(client, admin_headers, name="hub-dev", type="hf", data={"token": "b"})
    await _create(client, admin_headers, name="nvidia", type="ngc", data={"api_key": "c"})

    by_type = (await client.get(URL, params={"type": "hf", "order_by": "name"}, headers=admin_headers)).json()
    assert [c["name"] for c in by_type["data"]] == ["hub-dev", "hub-prod"] and by_type["total"] == 2

    found = await client.post(
        f"{URL}/search",
        json={
            "filters": [{"field": "name", "op": "startsWith", "values": ["HUB"]}],
            "sort": [{"field": "name", "order": "desc"}],
        },
        headers=admin_headers,
    )
    assert [c["name"] for c in found.json()["data"]] == ["hub-prod", "hub-dev"]

    owned = await client.post(
        f"{URL}/search",
        json={"filters": [{"field": "type", "op": "in", "values": ["ngc", "s3"]}]},
        headers=admin_headers,
    )
    assert [c["name"] for c in owned.json()["data"]] == ["nvidia"]


@pytest.mark.parametrize("field", ["data", "sealed_data", "description", "nope"])
async def test_search_on_unknown_or_secret_field_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    answer = await client.post(
        f"{URL}/search",
        json={"filters": [{"field": field, "op": "eq", "values": ["x"]}]},
        headers=admin_headers,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == field
    assert "Searchable fields: created_at, id, name, owner_id, type, updated_at." in answer.json()["error"]["message"]
    listed = await client.get(URL, params={field: "x"}, headers=admin_headers)
    assert listed.status_code == 400 and listed.json()["error"]["param"] == field


async def test_needs_manage_credentials(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory
) -> None:
    cred = await _create(client, admin_headers, name="hub", type="hf", data={"token": "a"})
    plain = (await new_caller("read_audit", "manage_users", "manage_keys"))["headers"]
    for answer in [
        await client.get(URL, headers=plain),
        await client.post(f"{URL}/search", json={}, headers=plain),
        await client.post(URL, json={"name": "x", "type": "hf", "data": {"token": "a"}}, headers=plain),
        await client.get(f"{URL}/{cred['id']}", headers=plain),
        await client.patch(f"{URL}/{cred['id']}", json={"name": "y"}, headers=plain),
        await client.delete(f"{URL}/{cred['id']}", headers=plain),
    ]:
        assert answer.status_code == 403, answer.text
        assert "manage_credentials" in answer.json()["error"]["message"]
    assert (await client.get(URL)).status_code == 401

    manager = await new_caller("manage_credentials")
    made = await _create(client, manager["headers"], name="mine", type="ngc", data={"api_key": "k"})
    assert made["owner_id"] == manager["user"]["id"] != cred["owner_id"]
    assert (await client.get(URL, headers=manager["headers"])).json()["total"] == 2
