"""The caller's own account (``/me``): read it, change name, email or password.

Changing the email or the password needs the current password, so that a leaked key or token alone cannot
take over the account.
"""

from __future__ import annotations

from typing import Any

from switchyard.domain.identity import Profile
from switchyard.errors import PermissionDenied
from switchyard.services import audit, roles, users
from switchyard.services.passwords import hash_password, verify_password
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
    if "password" in changes:
        changes["password_hash"] = await hash_password(changes.pop("password"))
    async with platform.identity_change() as session:
        user = await get_or_404(session, UserRow, _user_id(caller), "user")
        for name, value in changes.items():
            setattr(user, name, value)
        await flush_unique(session, "user", "email")
        named = {("password" if k == "password_hash" else k): v for k, v in changes.items()}
        audit.record(session, caller, "me.update", "user", user.id, audit.changed_fields(named))
        role = await get_or_404(session, RoleRow, user.role_id, "role")
        return Profile(users.to_domain(user), roles.to_domain(role))
