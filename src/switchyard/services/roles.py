"""Roles grant permissions and carry limits (stored here; enforced by governance)."""

from __future__ import annotations

from typing import Any

from switchyard.domain.identity import Role
from switchyard.errors import Conflict
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes, get_one, list_page
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.rows import count_where, flush_unique, get_or_404
from switchyard.store.tables import RoleRow, UserRow

LABEL = "role"
FIELDS = {
    "id": RoleRow.id,
    "name": RoleRow.name,
    "description": RoleRow.description,
    "created_at": RoleRow.created_at,
    "updated_at": RoleRow.updated_at,
}


def to_domain(row: RoleRow) -> Role:
    return Role(
        id=row.id,
        name=row.name,
        description=row.description,
        permissions=list(row.permissions),
        limits=list(row.limits),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_roles(platform: Platform, query: ListQuery) -> Page[Role]:
    return await list_page(platform, RoleRow, FIELDS, query, to_domain)


async def get_role(platform: Platform, role_id: int) -> Role:
    return await get_one(platform, RoleRow, role_id, LABEL, to_domain)


async def create_role(
    platform: Platform,
    caller: Caller,
    *,
    name: str,
    description: str,
    permissions: list[str],
    limits: list[dict[str, Any]],
) -> Role:
    async with platform.identity_change() as session:
        row = RoleRow(name=name, description=description, permissions=permissions, limits=limits)
        session.add(row)
        await flush_unique(session, LABEL, "name")
        audit.record(
            session,
            caller,
            "role.create",
            LABEL,
            row.id,
            f"created role '{name}' with permissions [{', '.join(permissions)}]",
        )
    return to_domain(row)


async def update_role(platform: Platform, caller: Caller, role_id: int, changes: dict[str, Any]) -> Role:
    async with platform.identity_change() as session:
        row = await get_or_404(session, RoleRow, role_id, LABEL)
        apply_changes(row, changes)
        await flush_unique(session, LABEL, "name")
        audit.record(session, caller, "role.update", LABEL, role_id, audit.changed_fields(changes))
    return to_domain(row)


async def delete_role(platform: Platform, caller: Caller, role_id: int) -> None:
    async with platform.identity_change() as session:
        row = await get_or_404(session, RoleRow, role_id, LABEL)
        members = await count_where(session, UserRow.role_id, role_id)
        if members:
            raise Conflict(f"Role '{row.name}' is still assigned to {members} user(s); reassign them first.")
        await session.delete(row)
        audit.record(session, caller, "role.delete", LABEL, role_id, f"deleted role '{row.name}'")
