from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from switchyard import __version__
from switchyard.api.auth import PlatformDep, PublicCaller
from switchyard.errors import UpstreamUnavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Version(BaseModel):
    name: str = "switchyard"
    version: str


@router.get("/health/live")
async def health_live(caller: PublicCaller) -> Health:
    return Health(status="ok")


@router.get("/health/ready")
async def health_ready(platform: PlatformDep, caller: PublicCaller) -> Health:
    try:
        async with platform.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        raise UpstreamUnavailable("The database is not reachable.", code="database_unavailable") from None
    return Health(status="ok")


@router.get("/api/v1/version")
async def get_version(caller: PublicCaller) -> Version:
    return Version(version=__version__)
