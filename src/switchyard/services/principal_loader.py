"""Loads a principal from the store by token hash: API keys first, then session tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.domain.governance import Budget, BudgetScope, RateLimit
from switchyard.services.permissions import Permission
from switchyard.services.principal import Principal
from switchyard.store.tables import ApiKeyRow, OrganizationRow, RoleRow, SessionTokenRow, UserRow, utcnow


def _earliest(*moments: datetime | None) -> float | None:
    known = [m.timestamp() for m in moments if m is not None]
    return min(known) if known else None


def _limits(data: list[Any]) -> tuple[RateLimit, ...]:
    return tuple(RateLimit.from_data(item) for item in data)


def _budgets(user: UserRow, key: ApiKeyRow | None, org: OrganizationRow | None) -> tuple[Budget, ...]:
    budgets = []
    if key is not None and key.budget is not None:
        budgets.append(Budget(BudgetScope.key, key.id, key.budget, key.spent))
    if user.budget is not None:
        budgets.append(Budget(BudgetScope.user, user.id, user.budget, user.spent))
    if org is not None and org.budget is not None:
        budgets.append(Budget(BudgetScope.organization, org.id, org.budget, org.spent))
    return tuple(budgets)


def _principal(
    user: UserRow,
    role: RoleRow,
    org: OrganizationRow | None,
    *,
    key: ApiKeyRow | None,
    token_expiry: datetime | None,
) -> Principal:
    known = {p.value for p in Permission}
    return Principal(
        user_id=user.id,
        email=user.email,
        role_id=role.id,
        role_name=role.name,
        permissions=frozenset(Permission(p) for p in role.permissions if p in known),
        organization_id=user.organization_id,
        priority=user.priority,
        key_id=key.id if key else None,
        allowed_routers=frozenset(key.allowed_routers) if key else frozenset(),
        expires_at=_earliest(token_expiry, user.expires_at),
        limits=_limits(role.limits),
        user_limits=_limits(user.limits),
        key_limits=_limits(key.limits) if key else (),
        budgets=_budgets(user, key, org),
    )


class PrincipalLoader:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __call__(self, token_hash: str) -> Principal | None:
        now = utcnow()
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(ApiKeyRow, UserRow, RoleRow, OrganizationRow)
                    .join(UserRow, ApiKeyRow.user_id == UserRow.id)
                    .join(RoleRow, UserRow.role_id == RoleRow.id)
                    .outerjoin(OrganizationRow, UserRow.organization_id == OrganizationRow.id)
                    .where(ApiKeyRow.secret_hash == token_hash)
                )
            ).first()
            if found is not None:
                key, user, role, org = found
                if key.status != "active" or (key.expires_at is not None and key.expires_at <= now):
                    return None
                principal = _principal(user, role, org, key=key, token_expiry=key.expires_at)
            else:
                token_found = (
                    await session.execute(
                        select(SessionTokenRow, UserRow, RoleRow, OrganizationRow)
                        .join(UserRow, SessionTokenRow.user_id == UserRow.id)
                        .join(RoleRow, UserRow.role_id == RoleRow.id)
                        .outerjoin(OrganizationRow, UserRow.organization_id == OrganizationRow.id)
                        .where(SessionTokenRow.token_hash == token_hash)
                    )
                ).first()
                if token_found is None:
                    return None
                token, user, role, org = token_found
                principal = _principal(user, role, org, key=None, token_expiry=token.expires_at)
        if principal.expires_at is not None and principal.expires_at <= now.timestamp():
            return None
        return principal
