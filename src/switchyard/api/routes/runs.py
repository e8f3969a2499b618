"""One MLflow run, with its metrics and parameters (lists are under `/api/v1/experiments/{id}/runs`)."""

from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.schemas.experiments import RunPublic
from switchyard.services import experiments as service

router = APIRouter(prefix="/api/v1/runs", tags=["experiments"])


@router.get("/{run_id}")
async def get_run(platform: PlatformDep, caller: AnyCaller, run_id: str) -> RunPublic:
    return RunPublic.from_domain(await service.get_run(platform, run_id))
