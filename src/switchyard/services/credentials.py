"""Credentials: typed secrets (hf, ngc, s3, provider, generic) that other features use for the platform.

A credential's ``data`` is sealed at rest as one Fernet blob and read back masked. Only ``open_credential``
returns the values in clear, for the features that need them (pulling a model, calling a provider); no route
calls it. Audit summaries name fields and keys, never values.
"""

from __future__ import annotations

from typing import Any

from switchyard.domain.credentials import DATA_KEYS, Credential, CredentialType
from switchyard.errors import Conflict, ValidationFailed
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes, get_one, list_page
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.services.sealing import Sealer, mask
from switchyard.store.rows import count_where, flush_unique, get_or_404
from switchyard.store.tables import CredentialRow, ProviderRow

LABEL = "credential"
FIELDS = {
    "id": CredentialRow.id,
    "name": CredentialRow.name,
    "type": CredentialRow.type,
    "owner_id": CredentialRow.owner_id,
    "created_at": CredentialRow.created_at,
    "updated_at": CredentialRow.updated_at,
}


def check_data(credential_type: CredentialType, data: dict[str, str]) -> None:
    """Raises a 422 naming the first required key missing from ``data``, or the first key the type doesn't
    take."""
    keys = DATA_KEYS[credential_type]
    for key in keys.required:
        if key not in data:
            raise ValidationFailed(
                f"A credential of type '{credential_type}' needs 'data.{key}' "
                f"(required keys: {', '.join(keys.required)}).",
                param=f"data.{key}",
            )
    if keys.open:
        return
    for key in data:
        if key not in keys.known:
            raise ValidationFailed(
                f"'data.{key}' is not a key of a credential of type '{credential_type}'; "
                f"its keys are {', '.join(keys.known)}.",
                param=f"data.{key}",
            )


def _open(sealer: Sealer, row: CredentialRow) -> dict[str, str]:
    return {str(key): str(value) for key, value in sealer.unseal(row.sealed_data).items()}


def to_domain(row: CredentialRow, sealer: Sealer) -> Credential:
    return Credential(
        id=row.id,
        name=row.name,
        type=CredentialType(row.type),
        description=row.description,
        masked_data={key: mask(value) for key, value in _open(sealer, row).items()},
        owner_id=row.owner_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _keys(data: dict[str, str]) -> str:
    return ", ".join(sorted(data))


async def list_credentials(platform: Platform, query: ListQuery) -> Page[Credential]:
    return await list_page(platform, CredentialRow, FIELDS, query, lambda row: to_domain(row, platform.sealer))


async def get_credential(platform: Platform, credential_id: int) -> Credential:
    return await get_one(platform, CredentialRow, credential_id, LABEL, lambda row: to_domain(row, platform.sealer))


async def open_credential(platform: Platform, credential_id: int) -> dict[str, str]:
    """The clear values of a credential, for internal use only: never hand them to an HTTP answer."""
    async with platform.transaction() as session:
        row = await get_or_404(session, CredentialRow, credential_id, LABEL)
        return _open(platform.sealer, row)


async def create_credential(
    platform: Platform,
    caller: Caller,
    *,
    name: str,
    credential_type: CredentialType,
    description: str,
    data: dict[str, str],
) -> Credential:
    check_data(credential_type, data)
    async with platform.transaction() as session:
        row = CredentialRow(
            name=name,
            type=credential_type.value,
            description=description,
            sealed_data=platform.sealer.seal(data),
            owner_id=caller.principal.user_id if caller.principal else None,
        )
        session.add(row)
        await flush_unique(session, LABEL, "name")
        summary = f"created {credential_type} credential '{name}' with keys {_keys(data)}"
        audit.record(session, caller, "credential.create", LABEL, row.id, summary)
    return to_domain(row, platform.sealer)


async def update_credential(
    platform: Platform, caller: Caller, credential_id: int, changes: dict[str, Any]
) -> Credential:
    """Changes name and description; ``data``, when given, replaces all the values and is checked again
    against the credential's type (which never changes)."""
    async with platform.transaction() as session:
        row = await get_or_404(session, CredentialRow, credential_id, LABEL)
        fields = dict(changes)
        data: dict[str, str] | None = fields.pop("data", None)
        summary = audit.changed_fields(changes)
        if data is not None:
            check_data(CredentialType(row.type), data)
            row.sealed_data = platform.sealer.seal(data)
            summary += f"; data keys now {_keys(data)}"
        apply_changes(row, fields)
        await flush_unique(session, LABEL, "name")
        audit.record(session, caller, "credential.update", LABEL, credential_id, summary)
    return to_domain(row, platform.sealer)


async def delete_credential(platform: Platform, caller: Caller, credential_id: int) -> None:
    async with platform.transaction() as session:
        row = await get_or_404(session, CredentialRow, credential_id, LABEL)
        users = await count_where(session, ProviderRow.credential_id, credential_id)
        if users:
            raise Conflict(f"Credential '{row.name}' is used by {users} provider(s); change them first.")
        await session.delete(row)
        summary = f"deleted credential '{row.name}'"
        audit.record(session, caller, "credential.delete", LABEL, credential_id, summary)
