"""MLflow's experiments and their runs, read-only. Any authenticated caller may read them, as any may track
through `/mlflow`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.experiments import ExperimentPublic, RunPublic
from switchyard.listing import ListQuery
from switchyard.services import experiments as service

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


def newest_first_unless_sorted(request: Request, query: ListQueryDep) -> ListQuery:
    """The shared `GET` list parameters; without `order_by` and `order_direction`, newest first."""
    if "order_by" in request.query_params or "order_direction" in request.query_params:
        return query
    return ListQuery(query.filters, (), query.limit, query.offset)


NewestFirstQuery = Annotated[ListQuery, Depends(newest_first_unless_sorted)]


@router.get("")
async def list_experiments(
    platform: PlatformDep, caller: AnyCaller, query: NewestFirstQuery
) -> ListResponse[ExperimentPublic]:
    """Active experiments, newest first; filter on `lifecycle_stage` to see deleted ones, on `tags.<key>`."""
    return page_response(await service.list_experiments(platform, query), ExperimentPublic.from_domain)


@router.post("/search")
async def search_experiments(
    platform: PlatformDep, caller: AnyCaller, body: SearchRequest
) -> ListResponse[ExperimentPublic]:
    return page_response(await service.list_experiments(platform, body.to_query()), ExperimentPublic.from_domain)


@router.get("/{experiment_id}")
async def get_experiment(platform: PlatformDep, caller: AnyCaller, experiment_id: str) -> ExperimentPublic:
    return ExperimentPublic.from_domain(await service.get_experiment(platform, experiment_id))


@router.get("/{experiment_id}/runs")
async def list_experiment_runs(
    platform: PlatformDep, caller: AnyCaller, experiment_id: str, query: NewestFirstQuery
) -> ListResponse[RunPublic]:
    """The experiment's active runs with their metrics and parameters, newest first. Filters may name
    `metrics.<name>`, `parameters.<name>` and `tags.<key>`."""
    return page_response(await service.list_runs(platform, experiment_id, query), RunPublic.from_domain)


@router.post("/{experiment_id}/runs/search")
async def search_experiment_runs(
    platform: PlatformDep, caller: AnyCaller, experiment_id: str, body: SearchRequest
) -> ListResponse[RunPublic]:
    return page_response(await service.list_runs(platform, experiment_id, body.to_query()), RunPublic.from_domain)
