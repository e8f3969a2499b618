"""The CLI's contexts: which servers it knows, with which credential, and which one is current.

Stored as JSON in ``$SWITCHYARD_CLI_CONFIG``, else ``$XDG_CONFIG_HOME/switchyard/config.json``, else
``~/.config/switchyard/config.json``. The file holds bearer secrets, so it is only ever written with mode 0600
(its directory, when the CLI creates it, 0700), and replaced atomically: a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from switchyard.cli.errors import CliError

CONFIG_ENV = "SWITCHYARD_CLI_CONFIG"
FILE_MODE = 0o600
DIR_MODE = 0o700


class CredentialKind(StrEnum):
    session = "session"
    """A session token from ``POST /api/v1/auth/login``: expires, and is revoked by ``logout``."""
    api_key = "api_key"
    """An API key given to ``login --api-key``: lives until it is revoked on the server."""


@dataclass
class Context:
    name: str
    url: str
    token: str | None = None
    kind: CredentialKind | None = None
    email: str | None = None
    expires_at: str | None = None

    @property
    def logged_in(self) -> bool:
        return self.token is not None

    def forget_credential(self) -> None:
        self.token = self.kind = self.expires_at = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["name"]
        return data

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Context:
        kind = data.get("kind")
        return cls(
            name=name,
            url=str(data["url"]),
            token=data.get("token"),
            kind=CredentialKind(kind) if kind else None,
            email=data.get("email"),
            expires_at=data.get("expires_at"),
        )


@dataclass
class CliConfig:
    current: str | None = None
    contexts: dict[str, Context] = field(default_factory=dict)

    def get(self, name: str) -> Context:
        try:
            return self.contexts[name]
        except KeyError:
            known = ", ".join(sorted(self.contexts)) or "none yet; create one with 'switchyard login URL'"
            raise CliError(f"No context named '{name}'. Contexts: {known}.") from None

    def put(self, context: Context) -> None:
        self.contexts[context.name] = context

    def remove(self, name: str) -> Context:
        context = self.get(name)
        del self.contexts[name]
        if self.current == name:
            self.current = None
        return context


def config_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "switchyard" / "config.json"


def load(path: Path) -> CliConfig:
    """The saved configuration; an empty one when the file does not exist yet."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CliConfig()
    except OSError as exc:
        raise CliError(f"Cannot read the CLI configuration {path}: {exc.strerror}.") from None
    try:
        data = json.loads(raw)
        contexts = {name: Context.from_json(name, value) for name, value in data.get("contexts", {}).items()}
        current = data.get("current")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CliError(f"The CLI configuration {path} is damaged; fix it or delete it and log in again.") from None
    return CliConfig(current=current if current in contexts else None, contexts=contexts)


def save(config: CliConfig, path: Path) -> None:
    """Writes ``config`` to ``path`` with mode 0600, atomically (a temporary file renamed over the old)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True)
    data = {
        "current": config.current,
        "contexts": {name: context.to_json() for name, context in sorted(config.contexts.items())},
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # the umask may only narrow the mode; make it exactly 0600
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def normalize_url(url: str) -> str:
    """``localhost:8080`` → ``http://localhost:8080``; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CliError(f"'{url}' is not a server URL; expected e.g. http://127.0.0.1:8080.")
    return url.rstrip("/")


def default_context_name(url: str) -> str:
    """The URL's ``host:port`` (just the host when the URL names no port)."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
