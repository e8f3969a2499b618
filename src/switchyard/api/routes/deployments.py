from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from switchyard.api.auth import Authenticated, PlatformDep
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.deployments import (
    DeploymentCreate,
    DeploymentPublic,
    DeploymentTags,
    DeploymentUpdate,
    LogLinePublic,
)
from switchyard.listing import DEFAULT_LIMIT, MAX_LIMIT
from switchyard.services import deployments as service
from switchyard.services.deployments_host import DeploymentHost
from switchyard.services.permissions import Permission
from switchyard.services.principal import Caller

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"])


def get_host(request: Request) -> DeploymentHost:
    host: DeploymentHost = request.app.state.deployments
    return host


HostDep = Annotated[DeploymentHost, Depends(get_host)]
ModelsManager = Annotated[Caller, Depends(Authenticated(Permission.manage_models))]


@router.get("")
async def list_deployments(
    platform: PlatformDep, caller: ModelsManager, query: ListQueryDep
) -> ListResponse[DeploymentPublic]:
    return page_response(await service.list_deployments(platform, query), DeploymentPublic.from_deployment)


@router.post("/search")
async def search_deployments(
    platform: PlatformDep, caller: ModelsManager, body: SearchRequest
) -> ListResponse[DeploymentPublic]:
    return page_response(await service.list_deployments(platform, body.to_query()), DeploymentPublic.from_deployment)


@router.post("", status_code=201)
async def create_deployment(
    platform: PlatformDep, host: HostDep, caller: ModelsManager, body: DeploymentCreate
) -> DeploymentPublic:
    """Answers at once: `pending` while the model loads, or `failed` with the reason when it cannot be had."""
    created = await service.create_deployment(platform, host, caller, body.column_values(), body.tags)
    return DeploymentPublic.from_deployment(created)


@router.get("/{deployment_id}")
async def get_deployment(platform: PlatformDep, caller: ModelsManager, deployment_id: int) -> DeploymentPublic:
    return DeploymentPublic.from_deployment(await service.get_deployment(platform, deployment_id))


@router.patch("/{deployment_id}")
async def update_deployment(
    platform: PlatformDep, host: HostDep, caller: ModelsManager, deployment_id: int, body: DeploymentUpdate
) -> DeploymentPublic:
    """A new `model` or `serving` rolls out a new revision; the running one serves until it is loaded."""
    updated = await service.update_deployment(platform, host, caller, deployment_id, body.column_changes())
    return DeploymentPublic.from_deployment(updated)


@router.delete("/{deployment_id}")
async def delete_deployment(platform: PlatformDep, host: HostDep, caller: ModelsManager, deployment_id: int) -> Deleted:
    await service.delete_deployment(platform, host, caller, deployment_id)
    return Deleted(id=deployment_id, object="deployment")


@router.post("/{deployment_id}/tags")
async def tag_deployment(
    platform: PlatformDep, caller: ModelsManager, deployment_id: int, body: DeploymentTags
) -> DeploymentPublic:
    """Adds tags, or changes the value of tags the deployment has."""
    return DeploymentPublic.from_deployment(await service.tag_deployment(platform, caller, deployment_id, body.tags))


@router.delete("/{deployment_id}/tags/{key}")
async def untag_deployment(
    platform: PlatformDep, caller: ModelsManager, deployment_id: int, key: str
) -> DeploymentPublic:
    return DeploymentPublic.from_deployment(await service.untag_deployment(platform, caller, deployment_id, key))


@router.get("/{deployment_id}/logs")
async def deployment_logs(
    platform: PlatformDep,
    host: HostDep,
    caller: ModelsManager,
    deployment_id: int,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="The latest lines to show.")] = DEFAULT_LIMIT,
) -> ListResponse[LogLinePublic]:
    """What loading and serving the deployment logged in the process that answers (newest last)."""
    lines = await service.deployment_logs(platform, host, deployment_id)
    shown = lines[-limit:]
    data = [LogLinePublic.from_line(line) for line in shown]
    return ListResponse[LogLinePublic](data=data, total=len(lines), limit=limit, offset=len(lines) - len(shown))
