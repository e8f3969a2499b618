"""The one place that turns errors into HTTP answers: ``{"error": {"message", "type", "code", "param"}}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from switchyard.api.responses import OrjsonResponse
from switchyard.errors import SwitchyardError

log = logging.getLogger(__name__)

_HTTP_TYPES = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("conflict_error", "conflict"),
    413: ("invalid_request_error", "payload_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "validation_error"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


_NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> OrjsonResponse:
    return OrjsonResponse(error_body(message, type_, code, param), status_code=status, headers=headers)


def _param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in loc[1:]] if loc and loc[0] in {"body", "query", "path", "header"} else []
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any]) -> str:
    param = _param(tuple(error.get("loc", ())))
    message = str(error.get("msg", "Invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"Invalid value for '{param}': {message}." if param else f"{message}."


async def _switchyard_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, SwitchyardError)
    headers = getattr(exc, "headers", None)
    return error_response(exc.status, exc.message, exc.type, exc.code, exc.param, headers)


async def _validation_error(request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return error_response(400, "The request body is not valid JSON.", "invalid_request_error", "invalid_json")
    if tuple(first.get("loc", ())) == ("body",):
        content_type = request.headers.get("content-type", "")
        if first.get("type") == "missing":
            return error_response(
                400,
                "The request body is missing; send a JSON object.",
                "invalid_request_error",
                "missing_body",
            )
        if content_type and "json" not in content_type:
            return error_response(
                415,
                f"Send the body as application/json, not {content_type.split(';')[0]}.",
                "invalid_request_error",
                "unsupported_media_type",
            )
        if first.get("type") in _NOT_AN_OBJECT:
            return error_response(
                400, "The request body must be a JSON object.", "invalid_request_error", "invalid_json"
            )
    return error_response(
        422,
        _validation_message(first),
        "invalid_request_error",
        "validation_error",
        _param(tuple(first.get("loc", ()))),
    )


async def _http_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_, code = _HTTP_TYPES.get(exc.status_code, ("api_error", None))
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 400 and message == "There was an error parsing the body":
        message = "The request body could not be read as JSON (invalid UTF-8 or nested too deeply)."
        code = "invalid_json"
    if exc.status_code == 404 and message == "Not Found":
        message = "No such route. See /docs for the API reference."
    return error_response(exc.status_code, message, type_, code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error.", "api_error", "internal_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(SwitchyardError, _switchyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
