"""Every router of the HTTP API, in the order they are mounted."""

from fastapi import APIRouter

from switchyard.api.routes import (
    audit_logs,
    auth,
    credentials,
    health,
    keys,
    me,
    organizations,
    permissions,
    providers,
    roles,
    routers,
    users,
)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    me.router,
    permissions.router,
    organizations.router,
    roles.router,
    users.router,
    keys.router,
    credentials.router,
    audit_logs.router,
    providers.router,
    routers.router,
]
