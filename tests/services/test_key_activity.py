from __future__ import annotations

import httpx
from fastapi import FastAPI

from switchyard.services.platform import Platform


async def test_last_used_at_is_written_in_batches(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    platform: Platform = app.state.platform
    key = (await client.post("/api/v1/keys", json={"name": "used"}, headers=admin_headers)).json()
    assert key["last_used_at"] is None
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})).status_code == 200
    await platform.key_activity.flush()
    after = (await client.get(f"/api/v1/keys/{key['id']}", headers=admin_headers)).json()
    assert after["last_used_at"] is not None and after["last_used_at"] >= key["created_at"]
