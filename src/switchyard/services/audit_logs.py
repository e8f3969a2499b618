"""Reading the audit log (``audit.py`` writes it). The log is append-only: nothing here changes it."""

from __future__ import annotations

from switchyard.domain.audit import AuditEntry
from switchyard.listing import ListQuery, Page, Sort
from switchyard.services.crud import list_page
from switchyard.services.platform import Platform
from switchyard.store.tables import AuditLogRow

FIELDS = {
    "id": AuditLogRow.id,
    "created_at": AuditLogRow.created_at,
    "actor_user_id": AuditLogRow.actor_user_id,
    "actor_email": AuditLogRow.actor_email,
    "actor_key_id": AuditLogRow.actor_key_id,
    "action": AuditLogRow.action,
    "entity_type": AuditLogRow.entity_type,
    "entity_id": AuditLogRow.entity_id,
    "outcome": AuditLogRow.outcome,
    "client_ip": AuditLogRow.client_ip,
}
NEWEST_FIRST = (Sort("created_at", descending=True), Sort("id", descending=True))


def to_domain(row: AuditLogRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        created_at=row.created_at,
        actor_user_id=row.actor_user_id,
        actor_email=row.actor_email,
        actor_key_id=row.actor_key_id,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        summary=row.summary,
        outcome=row.outcome,
        client_ip=row.client_ip,
    )


async def list_audit_logs(platform: Platform, query: ListQuery) -> Page[AuditEntry]:
    """A page of entries; newest first unless the query sorts otherwise."""
    if not query.sort:
        query = ListQuery(query.filters, NEWEST_FIRST, query.limit, query.offset)
    return await list_page(platform, AuditLogRow, FIELDS, query, to_domain)
