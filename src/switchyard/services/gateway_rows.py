"""Provider and router rows as domain objects; shared by the management services and the routing table."""

from __future__ import annotations

from switchyard.domain.gateway import (
    ModelType,
    Provider,
    ProviderAuth,
    RetryOn,
    Router,
    RouterMember,
    RouterMode,
    Strategy,
    Timeouts,
    WireFormat,
)
from switchyard.services.sealing import Sealer, mask
from switchyard.store.tables import ProviderRow, RouterProviderRow, RouterRow

SECRET_KEY_FIELD = "api_key"
"""The key under which a provider's own API key is sealed."""


def provider_to_domain(row: ProviderRow, sealer: Sealer) -> Provider:
    hint = mask(sealer.unseal(row.sealed_api_key)[SECRET_KEY_FIELD]) if row.sealed_api_key else None
    return Provider(
        id=row.id,
        name=row.name,
        wire_format=WireFormat(row.wire_format),
        base_url=row.base_url,
        paths=dict(row.paths),
        upstream_model=row.upstream_model,
        credential_id=row.credential_id,
        api_key_hint=hint,
        auth=ProviderAuth(**row.auth),
        timeouts=Timeouts(**row.timeouts),
        extra_headers=dict(row.extra_headers),
        default_options=dict(row.default_options),
        api_version=row.api_version,
        weight=row.weight,
        priority=row.priority,
        enabled=row.enabled,
        max_in_flight=row.max_in_flight,
        context_length=row.context_length,
        vector_size=row.vector_size,
        total_params_b=row.total_params_b,
        active_params_b=row.active_params_b,
        hosting_zone=row.hosting_zone,
        capabilities=list(row.capabilities),
        datacenter_pue=row.datacenter_pue,
        datacenter_wue=row.datacenter_wue,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def router_to_domain(row: RouterRow, members: list[RouterProviderRow]) -> Router:
    return Router(
        id=row.id,
        name=row.name,
        aliases=list(row.aliases),
        description=row.description,
        model_type=ModelType(row.model_type),
        mode=RouterMode(row.mode),
        strategy=Strategy(row.strategy),
        cost_prompt_tokens=row.cost_prompt_tokens,
        cost_completion_tokens=row.cost_completion_tokens,
        usage_extras=row.usage_extras,
        enabled=row.enabled,
        retry_on=frozenset(RetryOn(value) for value in row.retry_on),
        providers=[
            RouterMember(m.provider_id, m.weight, m.priority) for m in sorted(members, key=lambda m: m.position)
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
        rate_limit_rule=row.rate_limit_rule,
        max_queue_wait_seconds=row.max_queue_wait_seconds,
    )
