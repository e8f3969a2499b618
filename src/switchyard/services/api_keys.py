"""API keys: everyone manages their own; ``manage_keys`` manages anyone's.

A key's secret is returned once, by the call that creates it; the store keeps its SHA-256 hash and a visible
prefix. Another user's key is invisible (404) to a caller without ``manage_keys``. Revoking is final.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchyard.domain.identity import ApiKey, CreatedApiKey
from switchyard.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from switchyard.listing import Filter, FilterOp, ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes, list_page
from switchyard.services.permissions import Permission
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller, Principal
from switchyard.services.tokens import new_api_key
from switchyard.store.rows import require_reference, storable_id
from switchyard.store.tables import ApiKeyRow, UserRow, utcnow

LABEL = "key"
ACTIVE, REVOKED = "active", "revoked"
FIELDS = {
    "id": ApiKeyRow.id,
    "name": ApiKeyRow.name,
    "user_id": ApiKeyRow.user_id,
    "prefix": ApiKeyRow.prefix,
    "status": ApiKeyRow.status,
    "expires_at": ApiKeyRow.expires_at,
    "created_at": ApiKeyRow.created_at,
    "last_used_at": ApiKeyRow.last_used_at,
}


def to_domain(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        user_id=row.user_id,
        prefix=row.prefix,
        status=row.status,
        expires_at=row.expires_at,
        allowed_routers=list(row.allowed_routers),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        limits=list(row.limits),
        budget=row.budget,
        spent=row.spent,
    )


def _principal(caller: Caller) -> Principal:
    assert caller.principal is not None, "key routes are authenticated"
    return caller.principal


def _check_future(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at must be in the future.", param="expires_at")


async def list_keys(platform: Platform, caller: Caller, query: ListQuery) -> Page[ApiKey]:
    principal = _principal(caller)
    if not principal.can(Permission.manage_keys):
        query = query.narrowed(Filter("user_id", FilterOp.eq, (principal.user_id,)))
    return await list_page(platform, ApiKeyRow, FIELDS, query, to_domain)


async def _visible_row(session: Any, caller: Caller, key_id: int) -> ApiKeyRow:
    principal = _principal(caller)
    row: ApiKeyRow | None = await session.get(ApiKeyRow, key_id) if storable_id(key_id) else None
    if row is None or (row.user_id != principal.user_id and not principal.can(Permission.manage_keys)):
        raise NotFound(f"Key {key_id} not found.")
    return row


async def get_key(platform: Platform, caller: Caller, key_id: int) -> ApiKey:
    async with platform.transaction() as session:
        return to_domain(await _visible_row(session, caller, key_id))


async def create_key(
    platform: Platform,
    caller: Caller,
    *,
    name: str,
    user_id: int | None,
    expires_at: datetime | None,
    allowed_routers: list[str],
    limits: list[dict[str, Any]] | None = None,
    budget: float | None = None,
) -> CreatedApiKey:
    principal = _principal(caller)
    owner = user_id if user_id is not None else principal.user_id
    if owner != principal.user_id and not principal.can(Permission.manage_keys):
        raise PermissionDenied("Creating a key for another user needs the 'manage_keys' permission.")
    _check_future(expires_at)
    secret = new_api_key()
    async with platform.identity_change() as session:
        await require_reference(session, UserRow, owner, "user", "user_id")
        row = ApiKeyRow(
            name=name,
            user_id=owner,
            prefix=secret.prefix,
            secret_hash=secret.hash,
            status=ACTIVE,
            expires_at=expires_at,
            allowed_routers=allowed_routers,
            limits=limits or [],
            budget=budget,
        )
        session.add(row)
        await session.flush()
        audit.record(session, caller, "key.create", LABEL, row.id, f"created key '{name}' for user {owner}")
    return CreatedApiKey(key=to_domain(row), secret=secret.value)


async def update_key(platform: Platform, caller: Caller, key_id: int, changes: dict[str, Any]) -> ApiKey:
    if "expires_at" in changes:
        _check_future(changes["expires_at"])
    async with platform.identity_change() as session:
        row = await _visible_row(session, caller, key_id)
        if row.status == REVOKED and changes.get("status", REVOKED) != REVOKED:
            raise Conflict(f"Key {key_id} is revoked; revoking is final. Create a new key.", param="status")
        revoking = changes.get("status") == REVOKED and row.status != REVOKED
        apply_changes(row, changes)
        action = "key.revoke" if revoking else "key.update"
        audit.record(session, caller, action, LABEL, key_id, audit.changed_fields(changes))
    return to_domain(row)


async def delete_key(platform: Platform, caller: Caller, key_id: int) -> None:
    async with platform.identity_change() as session:
        row = await _visible_row(session, caller, key_id)
        await session.delete(row)
        audit.record(session, caller, "key.delete", LABEL, key_id, f"deleted key '{row.name}'")
