"""The SQL tables (SQLAlchemy 2.0 declarative). Alembic migrations under ``migrations/`` create them.

Tables are store types only: services convert rows to domain objects, the HTTP layer to wire models.
Times are stored as naive UTC and read back timezone-aware (``UTCDateTime``), the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime."""

    impl = DateTime(timezone=False)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite may hand back text for expressions
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


NEVER_REUSE_IDS = {"sqlite_autoincrement": True}
"""SQLite would hand a deleted row's id to the next row; audit entries name entities by id."""


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrganizationRow(Timestamped, Base):
    __tablename__ = "organizations"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    budget: Mapped[float | None] = mapped_column(Float)
    spent: Mapped[float] = mapped_column(Float, default=0.0)


class RoleRow(Timestamped, Base):
    __tablename__ = "roles"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    limits: Mapped[list[Any]] = mapped_column(default=list)


class UserRow(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    budget: Mapped[float | None] = mapped_column(Float)
    expires_at: Mapped[datetime | None] = mapped_column()
    priority: Mapped[int] = mapped_column(Integer, default=0)
    limits: Mapped[list[Any]] = mapped_column(default=list)
    """Rate limits of this user that apply on top of the role's (the most restrictive wins)."""
    spent: Mapped[float] = mapped_column(Float, default=0.0)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None] = mapped_column()
    allowed_routers: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    limits: Mapped[list[Any]] = mapped_column(default=list)
    """Rate limits of this key, counted for the key alone, on top of its user's."""
    budget: Mapped[float | None] = mapped_column(Float)
    spent: Mapped[float] = mapped_column(Float, default=0.0)


class SessionTokenRow(Base):
    __tablename__ = "session_tokens"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CredentialRow(Timestamped, Base):
    __tablename__ = "credentials"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    sealed_data: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class AuditLogRow(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_created_at", "created_at"),
        Index("ix_audit_logs_actor_created", "actor_user_id", "created_at"),
        Index("ix_audit_logs_entity", "entity_type", "entity_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(String(320))
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    client_ip: Mapped[str | None] = mapped_column(String(64))


class CacheEpochRow(Base):
    """A counter per cache; bumping it tells every process to drop what it cached."""

    __tablename__ = "cache_epochs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ProviderRow(Timestamped, Base):
    """One model at one upstream, and how to speak to it."""

    __tablename__ = "providers"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    wire_format: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(2000))
    paths: Mapped[dict[str, Any]] = mapped_column(default=dict)
    upstream_model: Mapped[str] = mapped_column(String(500))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id", ondelete="RESTRICT"), index=True)
    sealed_api_key: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeouts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    api_version: Mapped[str | None] = mapped_column(String(64))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    context_length: Mapped[int | None] = mapped_column(Integer)
    vector_size: Mapped[int | None] = mapped_column(Integer)
    total_params_b: Mapped[float | None] = mapped_column(Float)
    active_params_b: Mapped[float | None] = mapped_column(Float)
    hosting_zone: Mapped[str] = mapped_column(String(3), default="WOR")
    datacenter_pue: Mapped[float] = mapped_column(Float, default=1.2)
    datacenter_wue: Mapped[float] = mapped_column(Float, default=0.5)
    capabilities: Mapped[list[Any]] = mapped_column(default=list)


class RouterRow(Timestamped, Base):
    """A public model name (plus aliases) in front of one or more providers."""

    __tablename__ = "routers"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    model_type: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16), default="loadbalance")
    strategy: Mapped[str] = mapped_column(String(32), default="weighted")
    cost_prompt_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    cost_completion_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    usage_extras: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    retry_on: Mapped[list[Any]] = mapped_column(default=lambda: ["connect_error", "timeout", "429", "5xx"])
    rate_limit_rule: Mapped[str | None] = mapped_column(Text)
    """A CEL expression choosing the bucket (or the limits) of this router's rate limits per request."""
    max_queue_wait_seconds: Mapped[float] = mapped_column(Float, default=10.0)


class RouterProviderRow(Base):
    """A provider serving a router, with the weight and priority it has there."""

    __tablename__ = "router_providers"

    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    weight: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class UsageRecordRow(Base):
    """One answered (or failed) inference request. Written in batches off the hot path."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_created_at", "created_at"),
        Index("ix_usage_records_user_created", "user_id", "created_at"),
        Index("ix_usage_records_key_created", "key_id", "created_at"),
        Index("ix_usage_records_organization_created", "organization_id", "created_at"),
        Index("ix_usage_records_router_created", "router", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    router: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    kwh: Mapped[float | None] = mapped_column(Float)
    kgco2eq: Mapped[float | None] = mapped_column(Float)


class DeploymentRow(Timestamped, Base):
    """A logged model served in-process under a name (the V2 model name), with what its latest load found."""

    __tablename__ = "deployments"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32), default="logged-model")
    model: Mapped[str] = mapped_column(String(1000))
    serving_size: Mapped[str] = mapped_column(String(32), default="small")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    running_revision: Mapped[int | None] = mapped_column(Integer)
    model_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class DeploymentTagRow(Base):
    __tablename__ = "deployment_tags"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000), default="")
