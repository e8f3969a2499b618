from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from switchyard.api.schemas.common import PublicModel


class AuditLogPublic(PublicModel):
    object: Literal["audit_log"] = "audit_log"
    id: int
    created_at: datetime
    actor_user_id: int | None
    actor_email: str | None
    actor_key_id: int | None = Field(description="The API key used; null for a session token or no token.")
    action: str = Field(description="`<entity type>.<verb>`, e.g. `credential.update`.")
    entity_type: str
    entity_id: str | None
    summary: str = Field(description="What changed, by field and key names only.")
    outcome: str = Field(description="`success` or `failure`.")
    client_ip: str | None
