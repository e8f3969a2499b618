"""No secret is ever written to the database in clear: after secrets go in through the API, every column of
every table, read raw, must hold none of them (credential values are sealed; passwords, API keys and session
tokens hashed; the audit log names fields, not values)."""

from __future__ import annotations

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from switchyard.services.platform import Platform
from switchyard.store.tables import Base
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, CallerFactory

CREDENTIAL_SECRETS = {
    "hf": {"token": "hf_CANARY_hf_token_3b1f9a0c7d"},
    "ngc": {"api_key": "nvapi-CANARY-ngc-key-55e2a8d1"},
    "s3": {
        "access_key_id": "AKIACANARYS3ID7Q2W",
        "secret_access_key": "CANARY/s3/secret+access+key/9f8e7d6c",
        "endpoint": "https://minio.internal.example:9000",
    },
    "provider": {"api_key": "sk-CANARY-provider-key-0a9b8c7d", "organization": "org-CANARY-c0ffee"},
    "generic": {"DB_PASSWORD": "CANARY-generic-pw-\u00e9\u00e8-41d2", "note": "CANARY 'quoted' \"value\" 6a"},
}
REPLACEMENT = {"token": "hf_CANARY_replacement_token_e4c1b2"}
REJECTED = {"access_key_id": "AKIACANARYREJECTED99"}
USER_PASSWORD = "CANARY-user-password-8c3e"
CHANGED_PASSWORD = "CANARY-changed-password-2d7f"


def _cells(sync_conn: Connection) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every column of every table the database holds."""
    inspector = inspect(sync_conn)
    quote = sync_conn.dialect.identifier_preparer.quote
    cells = []
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            name = column["name"]
            statement = text(f"SELECT CAST({quote(name)} AS TEXT) FROM {quote(table)}")
            for (value,) in sync_conn.execute(statement):
                if value is not None:
                    cells.append((table, name, str(value)))
    return cells


async def _read_everything(platform: Platform) -> list[tuple[str, str, str]]:
    async with platform.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names()))
        assert set(Base.metadata.tables) <= tables, "the scan must cover every table the application defines"
        return await conn.run_sync(_cells)


async def _identity_secrets(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory
) -> dict[str, str]:
    """A user's password (then a changed one), API keys and a session token, put through the API."""
    user = await new_caller("manage_credentials", password=USER_PASSWORD)
    login = await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": USER_PASSWORD})
    assert login.status_code == 200, login.text
    session_token = login.json()["token"]
    session_headers = {"Authorization": f"Bearer {session_token}"}
    assert (await client.get("/api/v1/credentials", headers=session_headers)).status_code == 200
    changed = await client.patch(
        f"/api/v1/users/{user['user']['id']}", json={"password": CHANGED_PASSWORD}, headers=admin_headers
    )
    assert changed.status_code == 200, changed.text
    admin_key = await client.post("/api/v1/keys", json={"name": "second admin key"}, headers=admin_headers)
    assert admin_key.status_code == 201, admin_key.text
    return {
        "a user's first password": USER_PASSWORD,
        "a user's changed password": CHANGED_PASSWORD,
        "a user's API key": user["key"]["key"],
        "a second admin API key": admin_key.json()["key"],
        "a session token": session_token,
    }


async def test_no_secret_is_stored_in_clear(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform, new_caller: CallerFactory
) -> None:
    identity_secrets = await _identity_secrets(client, admin_headers, new_caller)
    created = {}
    for type_, data in CREDENTIAL_SECRETS.items():
        answer = await client.post(
            "/api/v1/credentials",
            json={"name": f"canary-{type_}", "type": type_, "data": data},
            headers=admin_headers,
        )
        assert answer.status_code == 201, answer.text
        created[type_] = answer.json()["id"]
    patched = await client.patch(
        f"/api/v1/credentials/{created['hf']}", json={"data": REPLACEMENT}, headers=admin_headers
    )
    assert patched.status_code == 200, patched.text
    rejected = await client.post(
        "/api/v1/credentials",
        json={"name": "rejected", "type": "s3", "data": REJECTED},
        headers=admin_headers,
    )
    assert rejected.status_code == 422, rejected.text

    needles = {
        "the admin password": ADMIN_PASSWORD,
        "the admin API key": ADMIN_KEY,
        "the sealing key": SECRET_KEY,
        "the replacement hf token": REPLACEMENT["token"],
        "the rejected s3 key id": REJECTED["access_key_id"],
        **identity_secrets,
    }
    for type_, data in CREDENTIAL_SECRETS.items():
        for key, value in data.items():
            needles[f"the {type_} credential's data.{key}"] = value

    cells = await _read_everything(platform)
    tables = {table for table, _, _ in cells}
    assert {"credentials", "audit_logs", "users", "api_keys", "session_tokens"} <= tables, tables
    names = [value for table, column, value in cells if (table, column) == ("credentials", "name")]
    assert sorted(names) == sorted(f"canary-{t}" for t in CREDENTIAL_SECRETS), "the scan reads the stored rows"
    audited = [value for table, column, value in cells if (table, column) == ("audit_logs", "action")]
    assert audited.count("credential.create") == len(CREDENTIAL_SECRETS) and "credential.update" in audited

    leaks = [
        f"{label} in {table}.{column}"
        for label, secret in needles.items()
        for table, column, value in cells
        if secret in value
    ]
    assert not leaks, "secrets stored in clear: " + "; ".join(leaks)
