"""Providers: one model at one upstream. Their API keys are sealed at rest and never returned in clear."""

from __future__ import annotations

from typing import Any

from switchyard.adapters.runtimes.sources import is_local_url
from switchyard.domain.gateway import Provider, WireFormat
from switchyard.errors import Conflict, ValidationFailed
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes, get_one, list_page
from switchyard.services.gateway_rows import SECRET_KEY_FIELD, provider_to_domain
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.rows import count_where, flush_unique, get_or_404, require_reference
from switchyard.store.tables import CredentialRow, ProviderRow, RouterProviderRow

LABEL = "provider"
FIELDS = {
    "id": ProviderRow.id,
    "name": ProviderRow.name,
    "wire_format": ProviderRow.wire_format,
    "base_url": ProviderRow.base_url,
    "upstream_model": ProviderRow.upstream_model,
    "credential_id": ProviderRow.credential_id,
    "weight": ProviderRow.weight,
    "priority": ProviderRow.priority,
    "enabled": ProviderRow.enabled,
    "hosting_zone": ProviderRow.hosting_zone,
    "created_at": ProviderRow.created_at,
    "updated_at": ProviderRow.updated_at,
}


def _seal_key(platform: Platform, api_key: str | None) -> str | None:
    return platform.sealer.seal({SECRET_KEY_FIELD: api_key}) if api_key else None


async def list_providers(platform: Platform, query: ListQuery) -> Page[Provider]:
    return await list_page(platform, ProviderRow, FIELDS, query, lambda row: provider_to_domain(row, platform.sealer))


async def get_provider(platform: Platform, provider_id: int) -> Provider:
    return await get_one(
        platform, ProviderRow, provider_id, LABEL, lambda row: provider_to_domain(row, platform.sealer)
    )


async def create_provider(platform: Platform, caller: Caller, values: dict[str, Any], api_key: str | None) -> Provider:
    """``values`` are validated column values (see ``api/schemas/providers.py``)."""
    async with platform.routing_change() as session:
        await require_reference(session, CredentialRow, values.get("credential_id"), "credential", "credential_id")
        row = ProviderRow(**values, sealed_api_key=_seal_key(platform, api_key))
        session.add(row)
        await flush_unique(session, LABEL, "name")
        audit.record(
            session,
            caller,
            "provider.create",
            LABEL,
            row.id,
            f"created provider '{row.name}' ({row.wire_format}, model '{row.upstream_model}')",
        )
    return provider_to_domain(row, platform.sealer)


def _check_base_url(wire_format: str, base_url: str) -> None:
    """A provider keeps its wire format: a local one names a model folder, any other an HTTP upstream."""
    local = wire_format == WireFormat.local
    if local != is_local_url(base_url):
        message = (
            "a local provider's base_url is local://<name> or file:///<folder>"
            if local
            else f"local:// and file:// URLs are for providers of wire_format local, not {wire_format}"
        )
        raise ValidationFailed(message, param="base_url")


async def update_provider(platform: Platform, caller: Caller, provider_id: int, changes: dict[str, Any]) -> Provider:
    """``changes`` may carry ``api_key``: a new key to seal, or None to remove the provider's own key."""
    changes = dict(changes)
    if SECRET_KEY_FIELD in changes:
        changes["sealed_api_key"] = _seal_key(platform, changes.pop(SECRET_KEY_FIELD))
    async with platform.routing_change() as session:
        row = await get_or_404(session, ProviderRow, provider_id, LABEL)
        if "base_url" in changes:
            _check_base_url(row.wire_format, changes["base_url"])
        if "credential_id" in changes:
            await require_reference(session, CredentialRow, changes["credential_id"], "credential", "credential_id")
        apply_changes(row, changes)
        await flush_unique(session, LABEL, "name")
        named = {("api_key" if k == "sealed_api_key" else k): v for k, v in changes.items()}
        audit.record(session, caller, "provider.update", LABEL, provider_id, audit.changed_fields(named))
    return provider_to_domain(row, platform.sealer)


async def delete_provider(platform: Platform, caller: Caller, provider_id: int) -> None:
    async with platform.routing_change() as session:
        row = await get_or_404(session, ProviderRow, provider_id, LABEL)
        routers = await count_where(session, RouterProviderRow.provider_id, provider_id)
        if routers:
            raise Conflict(f"Provider '{row.name}' still serves {routers} router(s); remove it from them first.")
        await session.delete(row)
        audit.record(session, caller, "provider.delete", LABEL, provider_id, f"deleted provider '{row.name}'")
