"""Every setting Switchyard reads, in one class.

Values come from, in order of precedence: keyword arguments, ``SWITCHYARD_*`` environment variables, the YAML
file named by ``SWITCHYARD_CONFIG``, and the defaults below. Each field has a description: the configuration
table in the README is generated from this class (``python -m switchyard.settings_docs``), and a test fails when the two
disagree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "changethis", "secret", "password", "admin"})


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "switchyard"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore", validate_default=True)

    host: str = Field("127.0.0.1", description="Address `switchyard serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `switchyard serve` listens on.")
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the SQLite database, the generated secret key and other local state. "
        "Default: `$XDG_DATA_HOME/switchyard`, else `~/.local/share/switchyard`.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL of the store. Unset: SQLite at `DATA_DIR/switchyard.db`. "
        "Production: `postgresql+asyncpg://user:pass@host/db`.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that seals credentials and provider keys at rest (any string of 32+ characters). "
        "Required on PostgreSQL; on SQLite one is generated into `DATA_DIR/secret.key` (mode 0600).",
    )
    admin_email: str = Field("admin@localhost", description="Email of the admin user created on first start.")
    admin_password: SecretStr | None = Field(
        None,
        description="Password of the admin user created on first start. Unset: a random one is printed once.",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="API key for the admin user, created on start if no key with it exists. Unset: a new key "
        "is generated and printed once on first start.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL (`redis://127.0.0.1:6379/0`) shared by several replicas for counters and cache "
        "invalidation. Unset: in-process state, invalidation by polling the database.",
    )
    redis_prefix: str = Field(
        "switchyard:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key and channel Switchyard uses; give each installation that shares "
        "one Redis its own.",
    )
    usage_flush_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="Longest time a usage record waits in memory before it is written."
    )
    usage_batch_size: int = Field(500, ge=1, le=10_000, description="Usage records written per batch.")
    usage_queue_size: int = Field(
        100_000,
        ge=100,
        description="Usage records kept in memory while the database is slow or down; beyond, they are dropped "
        "and counted (`switchyard_usage_records_dropped`).",
    )
    usage_retention_days: int | None = Field(
        None,
        ge=1,
        description="Usage records older than this many days are deleted (in bounded batches, hourly). "
        "Unset: kept forever.",
    )
    metrics_require_key: bool = Field(
        False,
        description="Make `GET /metrics` (Prometheus) need an API key with the `read_metrics` permission. "
        "Unset: public, like most scrape targets; keep it on a private network.",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes; larger answers 413."
    )
    session_ttl_seconds: int = Field(
        12 * 3600, ge=60, description="Lifetime of a session token issued by `POST /api/v1/auth/login`."
    )
    principal_cache_ttl_seconds: float = Field(
        300.0, gt=0, description="Longest time a resolved API key or token stays cached in a process."
    )
    cache_poll_interval_seconds: float = Field(
        0.5,
        gt=0,
        le=1.0,
        description="Without Redis: how often each process polls the database for cache invalidations.",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info",
        description="Log level of the server. At `info` and `debug` each request is also logged (uvicorn's access "
        "log); above, not even the call is made.",
    )
    builtin_embeddings: bool = Field(
        True,
        description="Create the built-in embedding model `all-minilm-l6-v2` (a `local` provider and a router of that "
        "name, 384 dimensions) at start when missing. Served in process; loaded on its first request.",
    )
    models_dir: Path | None = Field(
        None,
        description="Where local models' ONNX exports are cached (made once per model folder). "
        "Unset: `DATA_DIR/models`.",
    )
    local_max_batch: int = Field(
        64, ge=1, le=2048, description="Most inputs a local model runs together when requests are batched."
    )
    local_batch_wait_ms: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="Longest a request to a local model waits for concurrent ones to join its batch, in ms.",
    )
    local_threads: int = Field(
        0, ge=0, le=256, description="CPU threads each local model computes with. 0: one per core."
    )
    mlflow_enabled: bool = Field(
        True,
        description="Serve MLflow's tracking server and model registry at `/mlflow` (built on its first request) "
        "and the experiment views under `/api/v1`.",
    )
    mlflow_backend_store_uri: str | None = Field(
        None,
        description="MLflow's backend store (a synchronous SQLAlchemy URL). Unset: SQLite at `DATA_DIR/mlflow.db`, "
        "or on PostgreSQL the schema `mlflow` of Switchyard's database (through psycopg2).",
    )
    deployments_poll_interval_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="How often each process looks for deployments created, changed or deleted through another "
        "process (each process loads its own model sessions).",
    )
    deployments_log_lines: int = Field(
        200, ge=10, le=100_000, description="Log lines kept in memory per deployment (`GET …/deployments/{id}/logs`)."
    )

    @field_validator("secret_key", "admin_key", "admin_password")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder value; set a real secret")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters long")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'switchyard.db'}"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SWITCHYARD_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
