from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AnyCaller
from switchyard.api.listing import ListResponse
from switchyard.api.schemas.auth import PermissionPublic
from switchyard.services.permissions import PERMISSION_DESCRIPTIONS

router = APIRouter(prefix="/api/v1/permissions", tags=["permissions"])


@router.get("")
async def list_permissions(caller: AnyCaller) -> ListResponse[PermissionPublic]:
    data = [PermissionPublic(name=p.value, description=d) for p, d in PERMISSION_DESCRIPTIONS.items()]
    return ListResponse[PermissionPublic](data=data, total=len(data), limit=len(data), offset=0)
