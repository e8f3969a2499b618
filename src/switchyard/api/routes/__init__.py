"""Every router of the HTTP API, in the order they are mounted."""

from fastapi import APIRouter

from switchyard.api.routes import (
    audit_logs,
    auth,
    credentials,
    deployments,
    experiments,
    health,
    keys,
    logged_models,
    me,
    me_usage,
    metrics,
    organizations,
    permissions,
    providers,
    roles,
    routers,
    runs,
    usage,
    users,
)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    me.router,
    me_usage.router,
    permissions.router,
    organizations.router,
    roles.router,
    users.router,
    keys.router,
    credentials.router,
    audit_logs.router,
    providers.router,
    routers.router,
    deployments.router,
    metrics.router,
    usage.router,
    experiments.router,
    runs.router,
    logged_models.router,
]
