from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import PlatformDep, ProvidersManager
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.providers import ProviderCreate, ProviderPublic, ProviderTestResult, ProviderUpdate
from switchyard.services import provider_test
from switchyard.services import providers as service

router = APIRouter(prefix="/api/v1/providers", tags=["providers"])


@router.get("")
async def list_providers(
    platform: PlatformDep, caller: ProvidersManager, query: ListQueryDep
) -> ListResponse[ProviderPublic]:
    return page_response(await service.list_providers(platform, query), ProviderPublic.from_provider)


@router.post("/search")
async def search_providers(
    platform: PlatformDep, caller: ProvidersManager, body: SearchRequest
) -> ListResponse[ProviderPublic]:
    return page_response(await service.list_providers(platform, body.to_query()), ProviderPublic.from_provider)


@router.post("", status_code=201)
async def create_provider(platform: PlatformDep, caller: ProvidersManager, body: ProviderCreate) -> ProviderPublic:
    provider = await service.create_provider(platform, caller, body.column_values(), body.api_key)
    return ProviderPublic.from_provider(provider)


@router.get("/{provider_id}")
async def get_provider(platform: PlatformDep, caller: ProvidersManager, provider_id: int) -> ProviderPublic:
    return ProviderPublic.from_provider(await service.get_provider(platform, provider_id))


@router.patch("/{provider_id}")
async def update_provider(
    platform: PlatformDep, caller: ProvidersManager, provider_id: int, body: ProviderUpdate
) -> ProviderPublic:
    return ProviderPublic.from_provider(await service.update_provider(platform, caller, provider_id, body.changes()))


@router.delete("/{provider_id}")
async def delete_provider(platform: PlatformDep, caller: ProvidersManager, provider_id: int) -> Deleted:
    await service.delete_provider(platform, caller, provider_id)
    return Deleted(id=provider_id, object="provider")


@router.post("/{provider_id}/test")
async def test_provider(platform: PlatformDep, caller: ProvidersManager, provider_id: int) -> ProviderTestResult:
    """Send the provider a tiny request (chat, or embeddings for a provider that only embeds) and report how it
    went; an upstream failure is ``ok: false`` in a 200."""
    return ProviderTestResult.from_test(await provider_test.run_provider_test(platform, provider_id))
