"""Audit entries for management changes and logins, written in the same transaction as the change.

An entry names who, what and which entity, with a short summary made of field *names* and public identifiers
only: never a value that could be a secret (passwords, keys, credential values).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from switchyard.services.principal import Caller
from switchyard.store.tables import AuditLogRow


def record(
    session: AsyncSession,
    caller: Caller,
    action: str,
    entity_type: str,
    entity_id: object | None,
    summary: str,
    *,
    outcome: str = "success",
    actor_email: str | None = None,
    actor_user_id: int | None = None,
) -> None:
    """``actor_email``/``actor_user_id`` name the actor when there is no principal yet (login)."""
    principal = caller.principal
    session.add(
        AuditLogRow(
            actor_user_id=principal.user_id if principal else actor_user_id,
            actor_email=principal.email if principal else actor_email,
            actor_key_id=principal.key_id if principal else None,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            summary=summary,
            outcome=outcome,
            client_ip=caller.client_ip,
        )
    )


def changed_fields(fields: dict[str, object]) -> str:
    """'changed name, password' — the names only."""
    return "changed " + ", ".join(sorted(fields)) if fields else "no change"
