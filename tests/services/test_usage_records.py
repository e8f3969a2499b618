"""Reading usage records (a page, a summary) and deleting old ones, on SQLite and PostgreSQL, with rows
written straight into the table."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from switchyard.domain.governance import UsageRecord
from switchyard.errors import ValidationFailed
from switchyard.services import usage_records
from switchyard.services.platform import Platform
from switchyard.services.usage_records import GroupBy, UsageFilter, list_usage, summarize_usage
from switchyard.services.usage_retention import UsageRetention
from switchyard.store.tables import UsageRecordRow

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


def record(**fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": "r",
        "created_at": MIDNIGHT,
        "user_id": 1,
        "key_id": 10,
        "organization_id": None,
        "router": "chat",
        "provider": "p1",
        "endpoint": "chat",
        "status": 200,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "cost": 0.25,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "kwh": None,
        "kgco2eq": None,
    }
    return UsageRecord(**(values | fields))


async def store(platform: Platform, *records: UsageRecord) -> None:
    async with platform.sessions.begin() as session:
        await session.execute(insert(UsageRecordRow), [asdict(r) for r in records])


async def test_a_page_is_newest_first_and_filtered_on_every_field(platform: Platform) -> None:
    at = MIDNIGHT
    await store(
        platform,
        record(request_id="old", created_at=at - timedelta(days=2)),
        record(request_id="tie-1", created_at=at),
        record(request_id="tie-2", created_at=at),  # same time: the later id comes first
        record(request_id="new", created_at=at + timedelta(hours=1), router="embed", endpoint="embeddings"),
        record(request_id="refused", created_at=at + timedelta(hours=2), status=429, provider=None),
        record(request_id="failed", created_at=at + timedelta(hours=3), status=502, key_id=11),
        record(request_id="other", created_at=at + timedelta(hours=4), user_id=2, organization_id=7),
    )

    async def ids(flt: UsageFilter, limit: int = 100, offset: int = 0) -> list[str]:
        page = await list_usage(platform, flt, limit=limit, offset=offset)
        return [entry.record.request_id for entry in page.items]

    assert await ids(UsageFilter()) == ["other", "failed", "refused", "new", "tie-2", "tie-1", "old"]
    mine = UsageFilter().for_user(1)
    assert await ids(mine) == ["failed", "refused", "new", "tie-2", "tie-1", "old"]
    # [start, end): the start is included, the end is not
    assert await ids(UsageFilter(start=at, end=at + timedelta(hours=2)).for_user(1)) == ["new", "tie-2", "tie-1"]
    assert await ids(UsageFilter(routers=("embed",))) == ["new"]
    assert await ids(UsageFilter(endpoints=("chat",), key_ids=(11,))) == ["failed"]
    assert await ids(UsageFilter(statuses=("4xx",))) == ["refused"]
    assert await ids(UsageFilter(statuses=("5xx", "429"))) == ["failed", "refused"]
    assert await ids(UsageFilter(statuses=("200",), routers=("chat",)).for_user(1)) == ["tie-2", "tie-1", "old"]
    assert await ids(UsageFilter(organization_ids=(7,))) == ["other"]
    assert await ids(UsageFilter(providers=("p1",), user_ids=(2,))) == ["other"]
    assert await ids(UsageFilter(user_ids=(3,))) == []

    page = await list_usage(platform, mine, limit=4, offset=0)
    assert (page.total, len(page.items), page.extra["total_capped"]) == (6, 4, False)
    last = await list_usage(platform, mine, limit=4, offset=4)
    assert (last.total, [e.record.request_id for e in last.items]) == (6, ["tie-1", "old"])
    beyond = await list_usage(platform, mine, limit=4, offset=10)
    assert (beyond.total, beyond.items) == (6, [])
    entry = page.items[0]
    assert entry.id > 0 and entry.record.created_at == at + timedelta(hours=3)
    assert entry.record.created_at.tzinfo is not None


async def test_total_stops_counting_at_the_cap(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_records, "COUNT_CAP", 5)
    await store(platform, *(record(request_id=f"r{i}", created_at=MIDNIGHT + timedelta(seconds=i)) for i in range(8)))
    page = await list_usage(platform, UsageFilter(), limit=2, offset=0)
    assert (page.total, page.extra["total_capped"]) == (5, True)
    exact = await list_usage(platform, UsageFilter(start=MIDNIGHT + timedelta(seconds=4)), limit=2, offset=0)
    assert (exact.total, exact.extra["total_capped"]) == (4, False)


async def test_bad_filters_name_the_field(platform: Platform) -> None:
    with pytest.raises(ValidationFailed) as reversed_range:
        await list_usage(platform, UsageFilter(start=MIDNIGHT, end=MIDNIGHT), limit=10, offset=0)
    assert reversed_range.value.param == "end"
    with pytest.raises(ValidationFailed) as status:
        await list_usage(platform, UsageFilter(statuses=("teapot",)), limit=10, offset=0)
    assert status.value.param == "status"
    with pytest.raises(ValidationFailed) as too_many:
        await summarize_usage(platform, UsageFilter(routers=tuple(f"r{i}" for i in range(101))), [])
    assert too_many.value.param == "router"
    with pytest.raises(ValidationFailed) as group:
        usage_records.parse_group_by(["day,week"])
    assert group.value.param == "group_by"
    assert usage_records.parse_group_by(["day, router", "day", "key"]) == (GroupBy.day, GroupBy.router, GroupBy.key)


async def test_summary_by_utc_day_and_router_with_figures_computed_by_hand(platform: Platform) -> None:
    before = MIDNIGHT - timedelta(microseconds=1)  # 2026-03-01 23:59:59.999999 UTC
    after = MIDNIGHT
    await store(
        platform,
        record(created_at=before, router="chat", prompt_tokens=100, completion_tokens=20, cost=0.5, kwh=0.002,
               kgco2eq=0.001),
        record(created_at=before, router="chat", prompt_tokens=50, completion_tokens=0, cost=0.25, status=502),
        record(created_at=after, router="chat", prompt_tokens=7, completion_tokens=3, cost=0.125, kwh=0.004,
               kgco2eq=0.002),
        record(created_at=after, router="chat", prompt_tokens=0, completion_tokens=0, cost=0.0, status=429,
               provider=None),
        record(created_at=after + timedelta(hours=23), router="embed", prompt_tokens=30, completion_tokens=0,
               cost=0.0, key_id=None),
        record(created_at=after, user_id=2, router="chat", prompt_tokens=1000, cost=8.0),
    )  # fmt: skip
    summary = await summarize_usage(platform, UsageFilter().for_user(1), [GroupBy.day, GroupBy.router])
    rows = [(g.key, asdict(g.figures)) for g in summary.groups]
    assert rows == [
        (
            {"day": "2026-03-01", "router": "chat"},
            {"requests": 2, "errors": 1, "prompt_tokens": 150, "completion_tokens": 20, "cost": 0.75,
             "kwh": 0.002, "kgco2eq": 0.001},
        ),
        (
            {"day": "2026-03-02", "router": "chat"},
            {"requests": 2, "errors": 1, "prompt_tokens": 7, "completion_tokens": 3, "cost": 0.125,
             "kwh": 0.004, "kgco2eq": 0.002},
        ),
        (
            {"day": "2026-03-02", "router": "embed"},  # no record with a figure: null, not 0
            {"requests": 1, "errors": 0, "prompt_tokens": 30, "completion_tokens": 0, "cost": 0.0,
             "kwh": None, "kgco2eq": None},
        ),
    ]  # fmt: skip
    totals = summary.totals
    assert (totals.requests, totals.errors, totals.total_tokens, totals.cost) == (5, 2, 210, 0.875)
    assert totals.kwh == pytest.approx(0.006) and totals.kgco2eq == pytest.approx(0.003)
    assert not summary.truncated

    by_key = await summarize_usage(platform, UsageFilter().for_user(1), [GroupBy.key])
    assert [(g.key, g.figures.requests) for g in by_key.groups] == [({"key_id": 10}, 4), ({"key_id": None}, 1)]

    everyone = await summarize_usage(platform, UsageFilter(), [])
    assert [g.key for g in everyone.groups] == [{}] and everyone.totals.requests == 6
    assert everyone.totals.cost == 8.875 and everyone.totals.prompt_tokens == 1187

    in_range = await summarize_usage(platform, UsageFilter(start=MIDNIGHT, end=MIDNIGHT + timedelta(hours=1)), [])
    assert in_range.totals.requests == 3 and (in_range.start, in_range.end) == (MIDNIGHT, MIDNIGHT + timedelta(hours=1))


async def test_a_summary_with_more_groups_than_the_limit_is_truncated(platform: Platform) -> None:
    await store(platform, *(record(user_id=user, organization_id=user % 2 or None) for user in range(1, 6)))
    summary = await summarize_usage(platform, UsageFilter(), [GroupBy.user], limit=3)
    assert [g.key["user_id"] for g in summary.groups] == [1, 2, 3]
    assert summary.truncated and summary.totals.requests == 5  # totals cover every group
    orgs = await summarize_usage(platform, UsageFilter(), [GroupBy.organization, GroupBy.endpoint])
    assert [(g.key, g.figures.requests) for g in orgs.groups] == [
        ({"organization_id": 1, "endpoint": "chat"}, 3),
        ({"organization_id": None, "endpoint": "chat"}, 2),  # nulls last, on both databases
    ]
    providers = await summarize_usage(platform, UsageFilter(), [GroupBy.provider])
    assert [g.key for g in providers.groups] == [{"provider": "p1"}]
    with pytest.raises(ValidationFailed):
        await summarize_usage(platform, UsageFilter(), [GroupBy.user], limit=0)


async def count_records(platform: Platform) -> int:
    async with platform.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(UsageRecordRow))).scalar_one())


async def test_retention_deletes_only_expired_records_in_bounded_batches(platform: Platform) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    cutoff = now - timedelta(days=30)
    old = [record(request_id=f"old{i}", created_at=cutoff - timedelta(hours=i + 1)) for i in range(7)]
    kept = [record(request_id="edge", created_at=cutoff), record(request_id="new", created_at=now)]
    await store(platform, *old, *kept)

    retention = UsageRetention(platform.sessions, 30, batch_size=3, pause=0.0)
    assert await retention.purge(now) == 7
    assert retention.batches == 3  # 3 + 3 + 1
    async with platform.sessions() as session:
        left = (await session.execute(select(UsageRecordRow.request_id).order_by(UsageRecordRow.id))).scalars()
        assert list(left) == ["edge", "new"]
    assert await retention.purge(now) == 0

    assert await UsageRetention(platform.sessions, None).purge(now) == 0  # no retention: nothing is deleted


async def test_the_retention_task_purges_in_the_background(platform: Platform) -> None:
    await store(
        platform,
        record(created_at=datetime.now(UTC) - timedelta(days=3)),
        record(created_at=datetime.now(UTC)),
    )
    retention = UsageRetention(platform.sessions, 2, first_delay=0.0, interval=3600)
    retention.start()
    try:
        for _ in range(200):
            if retention.deleted:
                break
            await asyncio.sleep(0.02)
        assert retention.deleted == 1 and await count_records(platform) == 1
        assert retention.running
    finally:
        await retention.close()
    assert not retention.running

    idle = UsageRetention(platform.sessions, None, first_delay=0.0)
    idle.start()  # no retention set: no task at all
    assert not idle.running


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_platform_purges_only_when_a_retention_is_set(platform: Platform) -> None:
    assert platform.settings.usage_retention_days is None
    kept = Platform.build(platform.settings)
    await kept.start()
    try:
        assert not kept.retention.running
    finally:
        await kept.close()

    purging = Platform.build(platform.settings.model_copy(update={"usage_retention_days": 30}))
    await purging.start()
    try:
        assert purging.retention.running and purging.retention.days == 30
    finally:
        await purging.close()
    assert not purging.retention.running
