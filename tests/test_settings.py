from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchyard.errors import ConfigurationError
from switchyard.services.sealing import resolve_secret_key
from switchyard.settings import Settings


def test_yaml_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "switchyard.yaml"
    config.write_text("port: 9001\nhost: 0.0.0.0\nlog_level: debug\n")
    monkeypatch.setenv("SWITCHYARD_CONFIG", str(config))
    monkeypatch.setenv("SWITCHYARD_PORT", "9002")
    settings = Settings()
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9002, "debug")


def test_placeholder_and_short_secrets_are_refused() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(secret_key="changeme")
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(secret_key="too-short")


def test_secret_key_generated_once_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = resolve_secret_key(settings)
    assert resolve_secret_key(settings) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_postgres_needs_a_secret_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+asyncpg://postgres@127.0.0.1/x")
    with pytest.raises(ConfigurationError, match="SWITCHYARD_SECRET_KEY"):
        resolve_secret_key(settings)
