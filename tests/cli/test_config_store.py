from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from switchyard.cli import config_store
from switchyard.cli.config_store import CliConfig, Context, CredentialKind
from switchyard.cli.errors import CliError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "config.json"
    config = CliConfig(current="a", contexts={"a": Context("a", "http://a:1", "sy-secret", CredentialKind.api_key)})
    config_store.save(config, path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert config_store.load(path) == config


def test_saving_tightens_a_file_someone_made_readable(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    config_store.save(CliConfig(), path)
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left behind


def test_saving_under_a_wide_umask_still_gives_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        config_store.save(CliConfig(), tmp_path / "d" / "config.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "d" / "config.json") == 0o600


def test_missing_file_is_an_empty_configuration(tmp_path: Path) -> None:
    assert config_store.load(tmp_path / "nothing.json") == CliConfig()


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(CliError, match="damaged"):
        config_store.load(path)


def test_current_naming_a_missing_context_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": "gone", "contexts": {"a": {"url": "http://a"}}}))
    assert config_store.load(path).current is None


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config_store.CONFIG_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert config_store.config_path() == tmp_path / "home" / ".config" / "switchyard" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_store.config_path() == tmp_path / "xdg" / "switchyard" / "config.json"
    monkeypatch.setenv(config_store.CONFIG_ENV, str(tmp_path / "explicit.json"))
    assert config_store.config_path() == tmp_path / "explicit.json"


@pytest.mark.parametrize(
    ("given", "url", "name"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("localhost:9000", "http://localhost:9000", "localhost:9000"),
        ("https://gw.example.com", "https://gw.example.com", "gw.example.com"),
    ],
)
def test_urls_and_default_context_names(given: str, url: str, name: str) -> None:
    assert config_store.normalize_url(given) == url
    assert config_store.default_context_name(url) == name


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(CliError, match="not a server URL"):
        config_store.normalize_url("ftp://example.com")
