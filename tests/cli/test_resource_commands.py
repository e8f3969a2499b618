"""The resource commands against a real server: what they send is what the API contract takes, and what they
print is what the server answered."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.cli.conftest import Invoke, LiveServer


def _json(invoke: Invoke, *args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_organizations_create_list_get_update_delete(invoke: Invoke, logged_in: LiveServer) -> None:
    org = _json(invoke, "orgs", "create", "--name", "acme", "--budget", "50")
    assert (org["object"], org["name"], org["budget"]) == ("organization", "acme", 50)

    page = _json(invoke, "orgs", "list")
    assert page["total"] == 1 and page["data"][0]["id"] == org["id"]
    assert _json(invoke, "orgs", "get", "acme") == _json(invoke, "orgs", "get", str(org["id"]))

    updated = _json(invoke, "orgs", "update", "acme", "--name", "acme2", "--clear", "budget")
    assert (updated["name"], updated["budget"]) == ("acme2", None)

    refused = invoke("orgs", "delete", "acme2", input="n\n")
    assert refused.exit_code == 1 and _json(invoke, "orgs", "list")["total"] == 1
    deleted = _json(invoke, "orgs", "delete", "acme2", "--yes")
    assert deleted == {"id": org["id"], "object": "organization", "deleted": True}
    missing = invoke("orgs", "get", "acme2")
    assert missing.exit_code == 1 and missing.stderr.strip() == "Error: No organization with name 'acme2'."


def test_roles_take_permissions_and_limits(invoke: Invoke, logged_in: LiveServer) -> None:
    role = _json(
        invoke, "roles", "create", "--name", "dev", "--description", "Developers",
        "--permission", "manage_keys", "--permission", "read_usage",
        "--limit", "*:rpm=60", "--limit", "gpt-4o:tpd=100000",
    )  # fmt: skip
    assert role["permissions"] == ["manage_keys", "read_usage"]
    assert role["limits"] == [
        {"router": "*", "type": "rpm", "value": 60},
        {"router": "gpt-4o", "type": "tpd", "value": 100000},
    ]
    updated = _json(invoke, "roles", "update", "dev", "--clear", "limit", "--permission", "read_metrics")
    assert (updated["permissions"], updated["limits"]) == (["read_metrics"], [])

    unknown = invoke("roles", "create", "--name", "x", "--permission", "fly")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error (422): ")


def test_users_are_created_with_role_and_organization_by_name(invoke: Invoke, logged_in: LiveServer) -> None:
    org = _json(invoke, "orgs", "create", "--name", "acme")
    role = _json(invoke, "roles", "create", "--name", "dev")
    user = _json(
        invoke, "users", "create", "--email", "Bob@Example.com", "--name", "Bob",
        "--password", "bob-password-1", "--role", "dev", "--org", "acme", "--budget", "12.5",
        "--priority", "7", "--expires-at", "2099-01-31T12:00:00Z",
    )  # fmt: skip
    assert user["email"] == "bob@example.com"
    assert (user["role_id"], user["organization_id"]) == (role["id"], org["id"])
    assert (user["budget"], user["priority"]) == (12.5, 7)
    assert user["expires_at"].startswith("2099-01-31T12:00:00")

    found = _json(invoke, "users", "list", "--filter", "organization_id=" + str(org["id"]))
    assert [u["email"] for u in found["data"]] == ["bob@example.com"]
    by_email = _json(invoke, "users", "get", "BOB@example.com")
    assert by_email["id"] == user["id"]

    cleared = _json(invoke, "users", "update", "bob@example.com", "--clear", "org", "--clear", "expires-at")
    assert cleared["organization_id"] is None and cleared["expires_at"] is None

    no_role = invoke("users", "create", "--email", "c@example.com", "--role", "nope")
    assert no_role.exit_code == 1 and no_role.stderr.strip() == "Error: No role with name 'nope'."

    login = invoke("login", logged_in.url, "-e", "bob@example.com", "-p", "bob-password-1", "-c", "bob")
    assert login.exit_code == 0, login.output


def test_users_list_table(invoke: Invoke, logged_in: LiveServer) -> None:
    result = invoke("users", "list")
    assert result.exit_code == 0, result.output
    assert "EMAIL" in result.stdout and "admin@localhost" in result.stdout
    assert "1-1 of 1 users" in result.stdout


def test_keys_create_shows_the_secret_once_and_revoke_stops_it(invoke: Invoke, logged_in: LiveServer) -> None:
    user = _json(invoke, "users", "create", "--email", "bob@example.com")
    created = invoke("keys", "create", "--name", "ci", "--user", "bob@example.com", "--router", "gpt-4o")
    assert created.exit_code == 0, created.output
    secret_match = re.search(r"sy-[A-Za-z0-9_-]{20,}", created.stdout)
    assert secret_match is not None
    assert "will not be shown again" in created.stdout
    secret = secret_match.group(0)

    keys = _json(invoke, "keys", "list", "--filter", f"user_id={user['id']}")
    assert len(keys["data"]) == 1
    key = keys["data"][0]
    assert (key["name"], key["status"], key["allowed_routers"]) == ("ci", "active", ["gpt-4o"])
    assert secret.startswith(key["prefix"]) and secret not in json.dumps(keys)

    me = httpx.get(f"{logged_in.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["email"] == "bob@example.com"

    revoked = invoke("keys", "revoke", str(key["id"]))
    assert revoked.exit_code == 0, revoked.output
    assert _json(invoke, "keys", "get", str(key["id"]))["status"] == "revoked"
    me = httpx.get(f"{logged_in.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401

    again = invoke("keys", "update", str(key["id"]), "--status", "active")
    assert again.exit_code == 1 and again.stderr.startswith("Error (409): ")


def test_keys_update_and_delete(invoke: Invoke, logged_in: LiveServer) -> None:
    key = _json(invoke, "keys", "create", "--name", "ci", "--router", "a", "--router", "b")
    assert key["allowed_routers"] == ["a", "b"]
    updated = _json(invoke, "keys", "update", str(key["id"]), "--name", "ci2", "--clear", "router")
    assert (updated["name"], updated["allowed_routers"]) == ("ci2", [])
    assert _json(invoke, "keys", "delete", str(key["id"]), "--yes")["object"] == "api_key"


def test_keys_create_json_carries_the_secret(invoke: Invoke, logged_in: LiveServer) -> None:
    created = _json(invoke, "keys", "create", "--name", "mine", "--expires-at", "2099-01-01")
    assert created["key"].startswith("sy-") and created["user_id"] == 1
    by_name = invoke("keys", "get", "mine")
    assert by_name.exit_code == 1
    assert by_name.stderr.strip() == "Error: 'mine' is not an API key id: give the number."


def test_credentials_are_shown_masked(invoke: Invoke, logged_in: LiveServer) -> None:
    secret = "hf_abcdefghijklmnopqrstuvwxyz"
    created = invoke("credentials", "create", "--name", "hub", "--type", "hf", "--data", f"token={secret}")
    assert created.exit_code == 0, created.output
    assert secret not in created.stdout and "****wxyz" in created.stdout

    listed = _json(invoke, "credentials", "list")
    assert listed["data"][0]["data"] == {"token": "****wxyz"} and listed["data"][0]["type"] == "hf"

    updated = _json(invoke, "credentials", "update", "hub", "--description", "The hub", "--data", "token=x=1234")
    assert updated["description"] == "The hub" and updated["data"] == {"token": "****"}
    assert _json(invoke, "credentials", "delete", "hub", "-y")["deleted"] is True
