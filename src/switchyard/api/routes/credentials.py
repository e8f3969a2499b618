"""Sealed credentials: every route needs the `manage_credentials` permission; values are answered masked."""

from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import CredentialsManager, PlatformDep
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.credentials import CredentialCreate, CredentialPublic, CredentialUpdate
from switchyard.services import credentials as service

router = APIRouter(prefix="/api/v1/credentials", tags=["credentials"])


@router.get("")
async def list_credentials(
    platform: PlatformDep, caller: CredentialsManager, query: ListQueryDep
) -> ListResponse[CredentialPublic]:
    return page_response(await service.list_credentials(platform, query), CredentialPublic.from_domain)


@router.post("/search")
async def search_credentials(
    platform: PlatformDep, caller: CredentialsManager, body: SearchRequest
) -> ListResponse[CredentialPublic]:
    page = await service.list_credentials(platform, body.to_query())
    return page_response(page, CredentialPublic.from_domain)


@router.post("", status_code=201)
async def create_credential(
    platform: PlatformDep, caller: CredentialsManager, body: CredentialCreate
) -> CredentialPublic:
    credential = await service.create_credential(
        platform,
        caller,
        name=body.name,
        credential_type=body.type,
        description=body.description,
        data=body.data,
    )
    return CredentialPublic.from_domain(credential)


@router.get("/{credential_id}")
async def get_credential(platform: PlatformDep, caller: CredentialsManager, credential_id: int) -> CredentialPublic:
    return CredentialPublic.from_domain(await service.get_credential(platform, credential_id))


@router.patch("/{credential_id}")
async def update_credential(
    platform: PlatformDep, caller: CredentialsManager, credential_id: int, body: CredentialUpdate
) -> CredentialPublic:
    credential = await service.update_credential(platform, caller, credential_id, body.changes())
    return CredentialPublic.from_domain(credential)


@router.delete("/{credential_id}")
async def delete_credential(platform: PlatformDep, caller: CredentialsManager, credential_id: int) -> Deleted:
    await service.delete_credential(platform, caller, credential_id)
    return Deleted(id=credential_id, object="credential")
