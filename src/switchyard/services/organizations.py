"""Organizations group users; budgets set on one apply to all its users (enforced by governance)."""

from __future__ import annotations

from typing import Any

from switchyard.domain.identity import Organization
from switchyard.errors import Conflict
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes, get_one, list_page
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.rows import count_where, flush_unique, get_or_404
from switchyard.store.tables import OrganizationRow, UserRow

LABEL = "organization"
FIELDS = {
    "id": OrganizationRow.id,
    "name": OrganizationRow.name,
    "budget": OrganizationRow.budget,
    "created_at": OrganizationRow.created_at,
    "updated_at": OrganizationRow.updated_at,
}


def to_domain(row: OrganizationRow) -> Organization:
    return Organization(
        id=row.id, name=row.name, budget=row.budget, created_at=row.created_at, updated_at=row.updated_at
    )


async def list_organizations(platform: Platform, query: ListQuery) -> Page[Organization]:
    return await list_page(platform, OrganizationRow, FIELDS, query, to_domain)


async def get_organization(platform: Platform, org_id: int) -> Organization:
    return await get_one(platform, OrganizationRow, org_id, LABEL, to_domain)


async def create_organization(platform: Platform, caller: Caller, *, name: str, budget: float | None) -> Organization:
    async with platform.identity_change() as session:
        row = OrganizationRow(name=name, budget=budget)
        session.add(row)
        await flush_unique(session, LABEL, "name")
        audit.record(session, caller, "organization.create", LABEL, row.id, f"created organization '{name}'")
    return to_domain(row)


async def update_organization(platform: Platform, caller: Caller, org_id: int, changes: dict[str, Any]) -> Organization:
    async with platform.identity_change() as session:
        row = await get_or_404(session, OrganizationRow, org_id, LABEL)
        apply_changes(row, changes)
        await flush_unique(session, LABEL, "name")
        audit.record(session, caller, "organization.update", LABEL, org_id, audit.changed_fields(changes))
    return to_domain(row)


async def delete_organization(platform: Platform, caller: Caller, org_id: int) -> None:
    async with platform.identity_change() as session:
        row = await get_or_404(session, OrganizationRow, org_id, LABEL)
        members = await count_where(session, UserRow.organization_id, org_id)
        if members:
            raise Conflict(f"Organization {org_id} still has {members} user(s); move or delete them first.")
        await session.delete(row)
        audit.record(session, caller, "organization.delete", LABEL, org_id, f"deleted organization '{row.name}'")
