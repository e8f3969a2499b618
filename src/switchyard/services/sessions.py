"""Login with email and password for a session token (CLI, console), and logout."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from switchyard.domain.identity import SessionToken
from switchyard.errors import Unauthenticated
from switchyard.services import audit
from switchyard.services.passwords import verify_password
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.services.tokens import hash_secret, new_session_token
from switchyard.store.tables import SessionTokenRow, UserRow, utcnow

LABEL = "session"


async def login(platform: Platform, caller: Caller, email: str, password: str) -> SessionToken:
    async with platform.transaction() as session:
        user = (await session.execute(select(UserRow).where(UserRow.email == email))).scalar_one_or_none()
    now = utcnow()
    valid = await verify_password(user.password_hash if user else None, password)
    if user is None or not valid or (user.expires_at is not None and user.expires_at <= now):
        async with platform.transaction() as session:
            audit.record(
                session,
                caller,
                "auth.login",
                LABEL,
                None,
                "login refused",
                outcome="failure",
                actor_email=email,
            )
        raise Unauthenticated("Invalid email or password.", code="invalid_credentials")
    token = new_session_token()
    expires_at = now + timedelta(seconds=platform.settings.session_ttl_seconds)
    if user.expires_at is not None:
        expires_at = min(expires_at, user.expires_at)
    async with platform.transaction() as session:
        session.add(SessionTokenRow(user_id=user.id, token_hash=token.hash, expires_at=expires_at))
        audit.record(
            session,
            caller,
            "auth.login",
            LABEL,
            user.id,
            "logged in",
            actor_email=email,
            actor_user_id=user.id,
        )
    return SessionToken(token=token.value, user_id=user.id, expires_at=expires_at)


async def logout(platform: Platform, caller: Caller, token: str) -> bool:
    """Ends the session of ``token``; False when it is not a session token (an API key is revoked instead)."""
    async with platform.identity_change() as session:
        removed = await session.execute(
            delete(SessionTokenRow)
            .where(SessionTokenRow.token_hash == hash_secret(token))
            .returning(SessionTokenRow.id)
        )
        found = removed.first() is not None
        if found:
            audit.record(session, caller, "auth.logout", LABEL, None, "logged out")
    return found
