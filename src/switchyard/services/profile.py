"""The caller's own account (``/me``): read it, change name, email or password.

Changing the email or the password needs the current password, so that a leaked key or token alone cannot
take over the account.
"""

from __future__ import annotations

from typing import Any

from switchyard.domain.identity import Profile
from switchyard.errors import PermissionDenied
from switchyard.services import audit, roles, users
from switchyard.services.crud import apply_changes
from switchyard.services.passwords import verify_password
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.rows import flush_unique, get_or_404
from switchyard.store.tables import RoleRow, UserRow

SENSITIVE = {"email", "password"}


def _user_id(caller: Caller) -> int:
    assert caller.principal is not None, "profile routes are authenticated"
    return caller.principal.user_id


async def get_profile(platform: Platform, caller: Caller) -> Profile:
    async with platform.transaction() as session:
        user = await get_or_404(session, UserRow, _user_id(caller), "user")
        role = await get_or_404(session, RoleRow, user.role_id, "role")
        return Profile(users.to_domain(user), roles.to_domain(role))


async def update_profile(platform: Platform, caller: Caller, changes: dict[str, Any]) -> Profile:
    changes = dict(changes)
    current_password = changes.pop("current_password", None)
    async with platform.transaction() as session:
        user = await get_or_404(session, UserRow, _user_id(caller), "user")
        stored_hash = user.password_hash
    if SENSITIVE & changes.keys():
        if current_password is None:
            raise PermissionDenied(
                "Changing email or password needs 'current_password'.", code="current_password_required"
            )
        if not await verify_password(stored_hash, current_password):
            raise PermissionDenied("current_password is wrong.", code="invalid_current_password")
    changes = await users.with_password_hashed(changes)
    async with platform.identity_change() as session:
        user = await get_or_404(session, UserRow, _user_id(caller), "user")
        apply_changes(user, changes)
        await flush_unique(session, "user", "email")
        audit.record(session, caller, "me.update", "user", user.id, users.audited_fields(changes))
        role = await get_or_404(session, RoleRow, user.role_id, "role")
        return Profile(users.to_domain(user), roles.to_domain(role))
