"""Bearer secrets: API keys and session tokens are random, shown once, and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "sy-"
SESSION_TOKEN_PREFIX = "sy-sess-"
VISIBLE_PREFIX_LENGTH = 11  # "sy-" + 8 characters: enough to tell keys apart in a list


@dataclass(frozen=True, slots=True)
class NewSecret:
    value: str
    """The secret itself: shown to its owner once, never stored."""
    hash: str
    prefix: str


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _new(prefix: str) -> NewSecret:
    value = prefix + secrets.token_urlsafe(32)
    return NewSecret(value=value, hash=hash_secret(value), prefix=value[:VISIBLE_PREFIX_LENGTH])


def new_api_key() -> NewSecret:
    while True:
        key = _new(API_KEY_PREFIX)
        if not key.value.startswith(SESSION_TOKEN_PREFIX):  # keep the two kinds apart by their look
            return key


def new_session_token() -> NewSecret:
    return _new(SESSION_TOKEN_PREFIX)


def api_key_from_given(value: str) -> NewSecret:
    """A key whose value an operator chose (``SWITCHYARD_ADMIN_KEY``)."""
    return NewSecret(value=value, hash=hash_secret(value), prefix=value[:VISIBLE_PREFIX_LENGTH])
