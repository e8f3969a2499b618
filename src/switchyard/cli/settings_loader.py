"""Loading the server's settings for ``serve`` and ``db``, with errors explained in one line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from switchyard.cli.errors import CliError

if TYPE_CHECKING:  # imported when used: the client commands start faster without pydantic-settings
    from pydantic import ValidationError

    from switchyard.settings import Settings


def load_server_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment (and ``SWITCHYARD_CONFIG``), the command line's options on top."""
    from pydantic import ValidationError

    from switchyard.settings import Settings

    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise CliError(f"Invalid settings: {describe_validation_error(exc)}") from None
    except (OSError, ValueError) as exc:  # e.g. an unreadable or malformed SWITCHYARD_CONFIG file
        raise CliError(f"Cannot load the settings: {exc}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """``SWITCHYARD_PORT: Input should be a valid integer; ...`` — the environment names a user sets."""
    problems = []
    for error in exc.errors():
        location = "_".join(str(part) for part in error.get("loc", ()))
        name = f"SWITCHYARD_{location.upper()}" if location else "settings"
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "; ".join(problems) + "."


def safe_database_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has nothing we can safely show
        return "(the configured database URL)"


def describe_database_error(exc: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's ``(module.Class)`` or ``[Errno N]`` prefix."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^\([\w.]+\)\s*", "", text)
    return re.sub(r"^\[Errno \d+\]\s*", "", text)
