"""Sealing secrets at rest (credentials, provider keys) with Fernet, keyed from ``SWITCHYARD_SECRET_KEY``."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from switchyard.errors import ConfigurationError
from switchyard.settings import Settings

SECRET_KEY_FILE = "secret.key"


class Sealer:
    def __init__(self, secret_key: str) -> None:
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        self._fernet = Fernet(derived)

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(data)).decode()

    def unseal(self, sealed: str) -> dict[str, Any]:
        try:
            value = orjson.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise ConfigurationError(
                "A sealed secret cannot be opened with the current SWITCHYARD_SECRET_KEY."
            ) from None
        assert isinstance(value, dict)
        return value


def resolve_secret_key(settings: Settings) -> str:
    """The configured key; on SQLite one generated once into the data dir; on other stores an error."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if not settings.is_sqlite:
        raise ConfigurationError(
            "SWITCHYARD_SECRET_KEY must be set (32+ characters) when the store is not the embedded SQLite."
        )
    path = Path(settings.data_dir) / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def mask(value: str) -> str:
    """What the API shows of a secret value: its last four characters at most, and only for long ones."""
    return "****" + value[-4:] if len(value) >= 16 else "****"
