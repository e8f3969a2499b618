"""What a fresh installation needs: the built-in roles, an admin user and an admin API key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from switchyard.services import audit
from switchyard.services.passwords import hash_password
from switchyard.services.permissions import Permission
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.services.tokens import api_key_from_given, new_api_key
from switchyard.store.tables import ApiKeyRow, RoleRow, UserRow

ADMIN_ROLE = "admin"
USER_ROLE = "user"


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What to print once: secrets that were generated (None when they came from settings)."""

    admin_email: str
    admin_password: str | None
    admin_key: str | None


async def _role(platform: Platform, name: str, description: str, permissions: list[str]) -> int:
    async with platform.transaction() as session:
        role_id = (await session.execute(select(RoleRow.id).where(RoleRow.name == name))).scalar_one_or_none()
        if role_id is not None:
            return role_id
        row = RoleRow(name=name, description=description, permissions=permissions, limits=[])
        session.add(row)
        await session.flush()
        return row.id


async def bootstrap(platform: Platform) -> FirstStart | None:
    """Idempotent. Creates the built-in roles; on an empty user table the admin user and its first key;
    and, when ``SWITCHYARD_ADMIN_KEY`` is set, that key if it does not exist yet. Returns what to print."""
    settings = platform.settings
    caller = Caller(principal=None, client_ip=None)
    admin_role = await _role(platform, ADMIN_ROLE, "Everything.", [Permission.admin.value])
    await _role(platform, USER_ROLE, "Uses models with their own keys.", [])
    generated_password = generated_key = None
    async with platform.identity_change() as session:
        users = (await session.execute(select(func.count()).select_from(UserRow))).scalar_one()
        admin = (
            await session.execute(select(UserRow).where(UserRow.email == settings.admin_email))
        ).scalar_one_or_none()
        first_start = users == 0
        if first_start:
            if settings.admin_password is not None:
                password = settings.admin_password.get_secret_value()
            else:
                password = generated_password = secrets.token_urlsafe(18)
            admin = UserRow(
                email=settings.admin_email,
                name="Administrator",
                password_hash=await hash_password(password),
                role_id=admin_role,
            )
            session.add(admin)
            await session.flush()
            audit.record(session, caller, "user.create", "user", admin.id, "created the first admin user")
        if admin is None:
            return None
        if settings.admin_key is not None:
            key = api_key_from_given(settings.admin_key.get_secret_value())
        elif first_start:
            key = new_api_key()
            generated_key = key.value
        else:
            key = None
        if key is not None:
            exists = (
                await session.execute(select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == key.hash))
            ).scalar_one_or_none()
            if exists is None:
                row = ApiKeyRow(name="admin", user_id=admin.id, prefix=key.prefix, secret_hash=key.hash)
                session.add(row)
                await session.flush()
                audit.record(session, caller, "key.create", "key", row.id, "created the admin API key")
    if not first_start:
        return None
    return FirstStart(settings.admin_email, generated_password, generated_key)
