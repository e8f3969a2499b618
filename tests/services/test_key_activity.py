from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, select

from switchyard.services.key_activity import KeyActivity
from switchyard.services.platform import Platform
from switchyard.store.tables import ApiKeyRow


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


async def test_closing_while_a_flush_is_written_waits_for_it(platform: Platform) -> None:
    async with platform.sessions() as session:
        key_id = await session.scalar(select(ApiKeyRow.id))
    updates = 0

    def counted(*_: Any) -> None:
        nonlocal updates
        updates += 1

    event.listen(platform.engine.sync_engine, "before_cursor_execute", counted)
    activity = KeyActivity(platform.sessions, interval=0.001)
    activity.touch(key_id)
    for fake in range(10_000, 12_000):  # keys that do not exist: long enough a flush to close in the middle of
        activity.touch(fake)
    activity.start()
    for _ in range(2000):
        if updates:
            break
        await asyncio.sleep(0.001)
    assert updates  # a flush is under way

    began = time.monotonic()
    await activity.close()

    assert time.monotonic() - began < 5
    async with platform.sessions() as session:  # committed, and the database is not left locked
        assert await session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == key_id)) is not None
