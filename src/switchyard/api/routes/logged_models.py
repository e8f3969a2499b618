"""MLflow's logged models with what their files tell (kind, size, tensor schema, input example); read-only,
for any authenticated caller."""

from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.listing import ListResponse, SearchRequest, page_response
from switchyard.api.routes.experiments import NewestFirstQuery
from switchyard.api.schemas.experiments import InputExample, LoggedModelPublic
from switchyard.services import experiments as service

router = APIRouter(prefix="/api/v1/logged-models", tags=["experiments"])


@router.get("")
async def list_logged_models(
    platform: PlatformDep, caller: AnyCaller, query: NewestFirstQuery
) -> ListResponse[LoggedModelPublic]:
    """Newest first; filters may name `parameters.<name>` and `tags.<key>`."""
    return page_response(await service.list_logged_models(platform, query), LoggedModelPublic.from_domain)


@router.post("/search")
async def search_logged_models(
    platform: PlatformDep, caller: AnyCaller, body: SearchRequest
) -> ListResponse[LoggedModelPublic]:
    return page_response(await service.list_logged_models(platform, body.to_query()), LoggedModelPublic.from_domain)


@router.get("/{model_id}")
async def get_logged_model(platform: PlatformDep, caller: AnyCaller, model_id: str) -> LoggedModelPublic:
    return LoggedModelPublic.from_domain(await service.get_logged_model(platform, model_id))


@router.get("/{model_id}/input-example")
async def get_logged_model_input_example(platform: PlatformDep, caller: AnyCaller, model_id: str) -> InputExample:
    """The logged input example as a V2 inference request, ready for `POST /v2/models/{name}/infer`."""
    return InputExample.model_validate(await service.input_example(platform, model_id))
