"""Audit log entries as the services see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor_user_id: int | None
    actor_email: str | None
    actor_key_id: int | None
    """The API key used, or None for a session token or an unauthenticated action (a failed login)."""
    action: str
    """``<entity type>.<verb>``, e.g. ``credential.update``."""
    entity_type: str
    entity_id: str | None
    summary: str
    """What changed, by field and key names only — never a value."""
    outcome: str
    """``success`` or ``failure``."""
    client_ip: str | None
