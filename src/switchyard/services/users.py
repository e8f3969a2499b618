"""Users: who they are, which role and organization they belong to, their budget, expiry and priority.

A caller who is not an admin can neither grant nor touch more than they hold themselves: assigning a role, or
changing or deleting a user, whose permissions exceed the caller's is refused (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchyard.domain.identity import User
from switchyard.errors import Conflict, PermissionDenied
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.bootstrap import USER_ROLE
from switchyard.services.crud import apply_changes, get_one, list_page
from switchyard.services.passwords import hash_password
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.rows import flush_unique, get_or_404, require_reference
from switchyard.store.tables import OrganizationRow, RoleRow, UserRow

LABEL = "user"
FIELDS = {
    "id": UserRow.id,
    "email": UserRow.email,
    "name": UserRow.name,
    "role_id": UserRow.role_id,
    "organization_id": UserRow.organization_id,
    "budget": UserRow.budget,
    "expires_at": UserRow.expires_at,
    "priority": UserRow.priority,
    "created_at": UserRow.created_at,
    "updated_at": UserRow.updated_at,
}


def to_domain(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role_id=row.role_id,
        organization_id=row.organization_id,
        budget=row.budget,
        expires_at=row.expires_at,
        priority=row.priority,
        created_at=row.created_at,
        updated_at=row.updated_at,
        limits=list(row.limits),
        spent=row.spent,
    )


async def _role_permissions(session: AsyncSession, role_id: int) -> set[str]:
    permissions = (await session.execute(select(RoleRow.permissions).where(RoleRow.id == role_id))).scalar_one()
    return set(permissions)


async def _check_within_reach(session: AsyncSession, caller: Caller, role_id: int, what: str) -> None:
    principal = caller.principal
    if principal is None or principal.is_admin:
        return
    beyond = await _role_permissions(session, role_id) - {p.value for p in principal.permissions}
    if beyond:
        raise PermissionDenied(
            f"Only an admin can {what}: it involves permissions you do not hold ({', '.join(sorted(beyond))})."
        )


async def default_role_id(session: AsyncSession) -> int:
    role_id = (await session.execute(select(RoleRow.id).where(RoleRow.name == USER_ROLE))).scalar_one_or_none()
    if role_id is None:
        raise Conflict(f"No role_id was given and the default role '{USER_ROLE}' does not exist.", param="role_id")
    return role_id


async def list_users(platform: Platform, query: ListQuery) -> Page[User]:
    return await list_page(platform, UserRow, FIELDS, query, to_domain)


async def get_user(platform: Platform, user_id: int) -> User:
    return await get_one(platform, UserRow, user_id, LABEL, to_domain)


async def create_user(
    platform: Platform,
    caller: Caller,
    *,
    email: str,
    name: str,
    password: str | None,
    role_id: int | None,
    organization_id: int | None,
    budget: float | None,
    expires_at: datetime | None,
    priority: int,
    limits: list[dict[str, Any]] | None = None,
) -> User:
    password_hash = await hash_password(password) if password is not None else None
    async with platform.identity_change() as session:
        await require_reference(session, RoleRow, role_id, "role", "role_id")
        await require_reference(session, OrganizationRow, organization_id, "organization", "organization_id")
        role_id = role_id if role_id is not None else await default_role_id(session)
        await _check_within_reach(session, caller, role_id, "assign this role")
        row = UserRow(
            email=email,
            name=name,
            password_hash=password_hash,
            role_id=role_id,
            organization_id=organization_id,
            budget=budget,
            expires_at=expires_at,
            priority=priority,
            limits=limits or [],
        )
        session.add(row)
        await flush_unique(session, LABEL, "email")
        audit.record(session, caller, "user.create", LABEL, row.id, f"created user '{email}'")
    return to_domain(row)


async def with_password_hashed(changes: dict[str, Any]) -> dict[str, Any]:
    """Column changes: a new ``password`` becomes its ``password_hash``."""
    changes = dict(changes)
    if changes.get("password") is not None:
        changes["password_hash"] = await hash_password(changes.pop("password"))
    return changes


def audited_fields(changes: dict[str, Any]) -> str:
    """The audit summary of column changes, naming a new hash 'password'."""
    return audit.changed_fields({("password" if k == "password_hash" else k): v for k, v in changes.items()})


async def update_user(platform: Platform, caller: Caller, user_id: int, changes: dict[str, Any]) -> User:
    changes = await with_password_hashed(changes)
    async with platform.identity_change() as session:
        row = await get_or_404(session, UserRow, user_id, LABEL)
        await _check_within_reach(session, caller, row.role_id, "change this user")
        if "role_id" in changes:
            await require_reference(session, RoleRow, changes["role_id"], "role", "role_id")
            await _check_within_reach(session, caller, changes["role_id"], "assign this role")
        if "organization_id" in changes:
            await require_reference(
                session, OrganizationRow, changes["organization_id"], "organization", "organization_id"
            )
        apply_changes(row, changes)
        await flush_unique(session, LABEL, "email")
        audit.record(session, caller, "user.update", LABEL, user_id, audited_fields(changes))
    return to_domain(row)


async def delete_user(platform: Platform, caller: Caller, user_id: int) -> None:
    if caller.principal is not None and caller.principal.user_id == user_id:
        raise Conflict("You cannot delete your own user.")
    async with platform.identity_change() as session:
        row = await get_or_404(session, UserRow, user_id, LABEL)
        await _check_within_reach(session, caller, row.role_id, "delete this user")
        await session.delete(row)
        audit.record(session, caller, "user.delete", LABEL, user_id, f"deleted user '{row.email}'")
