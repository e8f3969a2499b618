"""Who may call a route. Every management route declares exactly one of:

- ``Authenticated(permission)`` — a valid API key or session token whose role grants ``permission``
  (``admin`` grants all);
- ``Authenticated(None)`` — any valid key or token (the caller's own things: ``/me``, own keys);
- ``public`` — no token (health, version, login).

The route table is checked for this by ``tests/api/test_permission_matrix.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from switchyard.errors import PermissionDenied, Unauthenticated
from switchyard.services.permissions import Permission
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller, Principal


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def resolve_principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("No API key provided. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key")
    platform = get_platform(request)
    principal = await platform.principals.resolve(token)
    if principal is None:
        raise Unauthenticated("Invalid, revoked or expired API key or token.")
    if principal.key_id is not None:
        platform.key_activity.touch(principal.key_id)
    return principal


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class Authenticated:
    """A dependency that yields the ``Caller`` if the token is valid and grants ``permission``."""

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Caller:
        principal = await resolve_principal(request)
        if self.permission is not None and not principal.can(self.permission):
            raise PermissionDenied(f"This action needs the '{self.permission}' permission.")
        return Caller(principal=principal, client_ip=client_ip(request))


async def public(request: Request) -> Caller:
    """Marks a route that needs no token."""
    return Caller(principal=None, client_ip=client_ip(request))


PlatformDep = Annotated[Platform, Depends(get_platform)]
PublicCaller = Annotated[Caller, Depends(public)]
AnyCaller = Annotated[Caller, Depends(Authenticated(None))]
AdminCaller = Annotated[Caller, Depends(Authenticated(Permission.admin))]
UsersManager = Annotated[Caller, Depends(Authenticated(Permission.manage_users))]
KeysManager = Annotated[Caller, Depends(Authenticated(Permission.manage_keys))]
CredentialsManager = Annotated[Caller, Depends(Authenticated(Permission.manage_credentials))]
AuditReader = Annotated[Caller, Depends(Authenticated(Permission.read_audit))]
ProvidersManager = Annotated[Caller, Depends(Authenticated(Permission.manage_providers))]
