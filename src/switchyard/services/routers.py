"""Routers: a public model name and aliases in front of providers, with a mode, a strategy and prices.

A name or alias names one router only: across every router's name and aliases it is unique (409 otherwise).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchyard.domain.gateway import Router, RouterMember
from switchyard.errors import BadRequest, Conflict, ValidationFailed
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes
from switchyard.services.gateway_rows import router_to_domain
from switchyard.services.governance.rules import InvalidRule, compile_rule
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.query import fetch_page
from switchyard.store.rows import flush_unique, get_or_404, storable_id
from switchyard.store.tables import ProviderRow, RouterProviderRow, RouterRow

LABEL = "router"
FIELDS = {
    "id": RouterRow.id,
    "name": RouterRow.name,
    "model_type": RouterRow.model_type,
    "mode": RouterRow.mode,
    "strategy": RouterRow.strategy,
    "cost_prompt_tokens": RouterRow.cost_prompt_tokens,
    "cost_completion_tokens": RouterRow.cost_completion_tokens,
    "enabled": RouterRow.enabled,
    "created_at": RouterRow.created_at,
    "updated_at": RouterRow.updated_at,
}


async def _members(session: AsyncSession, router_ids: list[int]) -> dict[int, list[RouterProviderRow]]:
    found: dict[int, list[RouterProviderRow]] = {i: [] for i in router_ids}
    if router_ids:
        rows = (
            await session.execute(select(RouterProviderRow).where(RouterProviderRow.router_id.in_(router_ids)))
        ).scalars()
        for member in rows:
            found[member.router_id].append(member)
    return found


def _check_rule(values: dict[str, Any]) -> None:
    """A rate-limit rule is compiled and tried when saved, so that it can never fail a request for its syntax."""
    source = values.get("rate_limit_rule")
    if source is None:
        return
    try:
        compile_rule(source)
    except InvalidRule as exc:
        raise BadRequest(f"Invalid rate_limit_rule: {exc}", param="rate_limit_rule", code="invalid_rule") from None


async def _check_names(session: AsyncSession, router_id: int | None, name: str, aliases: list[str]) -> None:
    wanted = {name, *aliases}
    if len(aliases) != len(set(aliases)) or name in aliases:
        raise ValidationFailed("Aliases must be distinct and differ from the router's name.", param="aliases")
    for other in (await session.execute(select(RouterRow).where(RouterRow.id != (router_id or -1)))).scalars():
        taken = wanted & {other.name, *other.aliases}
        if taken:
            which = sorted(taken)[0]
            param = "name" if which == name else "aliases"
            raise Conflict(f"'{which}' already names router '{other.name}'.", param=param)


async def _set_members(session: AsyncSession, router_id: int, members: list[RouterMember]) -> None:
    ids = [m.provider_id for m in members]
    if len(ids) != len(set(ids)):
        raise ValidationFailed("A provider can appear only once in a router.", param="providers")
    if ids:
        storable = [i for i in ids if storable_id(i)]
        known = set((await session.execute(select(ProviderRow.id).where(ProviderRow.id.in_(storable)))).scalars())
        for index, provider_id in enumerate(ids):
            if provider_id not in known:
                raise ValidationFailed(
                    f"Provider {provider_id} does not exist.", param=f"providers.{index}.provider_id"
                )
    await session.execute(delete(RouterProviderRow).where(RouterProviderRow.router_id == router_id))
    for position, member in enumerate(members):
        session.add(
            RouterProviderRow(
                router_id=router_id,
                provider_id=member.provider_id,
                weight=member.weight,
                priority=member.priority,
                position=position,
            )
        )


async def list_routers(platform: Platform, query: ListQuery) -> Page[Router]:
    async with platform.transaction() as session:
        rows, total = await fetch_page(session, RouterRow, FIELDS, query)
        members = await _members(session, [r.id for r in rows])
    return Page([router_to_domain(r, members[r.id]) for r in rows], total, query.limit, query.offset)


async def get_router(platform: Platform, router_id: int) -> Router:
    async with platform.transaction() as session:
        row = await get_or_404(session, RouterRow, router_id, LABEL)
        return router_to_domain(row, (await _members(session, [router_id]))[router_id])


async def create_router(
    platform: Platform, caller: Caller, values: dict[str, Any], members: list[RouterMember]
) -> Router:
    _check_rule(values)
    async with platform.routing_change() as session:
        await _check_names(session, None, values["name"], values.get("aliases", []))
        row = RouterRow(**values)
        session.add(row)
        await flush_unique(session, LABEL, "name")
        await _set_members(session, row.id, members)
        await session.flush()
        audit.record(
            session,
            caller,
            "router.create",
            LABEL,
            row.id,
            f"created router '{row.name}' with {len(members)} provider(s)",
        )
        return router_to_domain(row, (await _members(session, [row.id]))[row.id])


async def update_router(
    platform: Platform,
    caller: Caller,
    router_id: int,
    changes: dict[str, Any],
    members: list[RouterMember] | None,
) -> Router:
    _check_rule(changes)
    async with platform.routing_change() as session:
        row = await get_or_404(session, RouterRow, router_id, LABEL)
        if "name" in changes or "aliases" in changes:
            await _check_names(
                session, router_id, changes.get("name", row.name), changes.get("aliases", list(row.aliases))
            )
        apply_changes(row, changes)
        await flush_unique(session, LABEL, "name")
        if members is not None:
            await _set_members(session, router_id, members)
            await session.flush()
        named = dict(changes) | ({"providers": members} if members is not None else {})
        audit.record(session, caller, "router.update", LABEL, router_id, audit.changed_fields(named))
        return router_to_domain(row, (await _members(session, [router_id]))[router_id])


async def delete_router(platform: Platform, caller: Caller, router_id: int) -> None:
    async with platform.routing_change() as session:
        row = await get_or_404(session, RouterRow, router_id, LABEL)
        await session.delete(row)
        audit.record(session, caller, "router.delete", LABEL, router_id, f"deleted router '{row.name}'")
