"""Error answers of the inference front doors: OpenAI's shape on ``/v1``, Anthropic's on ``/v1/messages``."""

from __future__ import annotations

from typing import Any

import orjson

from switchyard.api.error_handlers import error_body
from switchyard.errors import SwitchyardError

ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def openai_error(exc: SwitchyardError) -> bytes:
    return orjson.dumps(error_body(exc.message, exc.type, exc.code, exc.param))


def anthropic_error(exc: SwitchyardError) -> bytes:
    type_ = ANTHROPIC_TYPES.get(exc.status, "invalid_request_error" if exc.status < 500 else "api_error")
    body: dict[str, Any] = {"type": "error", "error": {"type": type_, "message": exc.message}}
    return orjson.dumps(body)


def error_headers(exc: SwitchyardError) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
