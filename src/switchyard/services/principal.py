"""Who is calling: the user behind an API key or a session token, with what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchyard.domain.governance import Budget, RateLimit
from switchyard.services.permissions import Permission


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    email: str
    role_id: int
    role_name: str
    permissions: frozenset[Permission]
    organization_id: int | None = None
    priority: int = 0
    key_id: int | None = None
    """The API key used, or None for a session token."""
    allowed_routers: frozenset[str] = frozenset()
    """Routers the key is scoped to; empty means every router the user may use."""
    expires_at: float | None = None
    """Earliest expiry (Unix time) of the token and the user, if any."""
    limits: tuple[RateLimit, ...] = field(default=())
    """The role's rate limits."""
    user_limits: tuple[RateLimit, ...] = field(default=())
    key_limits: tuple[RateLimit, ...] = field(default=())
    budgets: tuple[Budget, ...] = field(default=())
    """The key's, the user's and the organization's budgets, those that are set."""

    @property
    def is_admin(self) -> bool:
        return Permission.admin in self.permissions

    def can(self, permission: Permission) -> bool:
        return Permission.admin in self.permissions or permission in self.permissions

    def may_use_router(self, name: str) -> bool:
        return not self.allowed_routers or name in self.allowed_routers


@dataclass(frozen=True, slots=True)
class Caller:
    """A principal together with where the request came from, for the audit log."""

    principal: Principal | None
    client_ip: str | None = None
