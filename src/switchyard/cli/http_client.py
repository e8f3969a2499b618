"""The CLI's HTTP client for the management API: bearer auth, JSON in and out, and one place that turns
transport failures and error answers into ``CliError``s."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from switchyard import __version__
from switchyard.cli.errors import ApiError, CliError, ServerUnreachable

DEFAULT_TIMEOUT = 30.0
QueryParams = list[tuple[str, str | int | float | bool | None]]


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        unauthorized_hint: str | None = None,
    ) -> None:
        headers = {"User-Agent": f"switchyard-cli/{__version__}", "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url
        self._timeout = timeout
        self._unauthorized_hint = unauthorized_hint
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: QueryParams | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self, method: str, path: str, *, params: QueryParams | None = None, body: dict[str, Any] | None = None
    ) -> Any:
        """The decoded JSON answer; raises ``ApiError`` for an error answer and ``ServerUnreachable`` when
        there is no answer."""
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise ServerUnreachable(f"{self.base_url} did not answer within {self._timeout:g} s.") from None
        except httpx.ConnectError as exc:
            raise ServerUnreachable(
                f"Cannot connect to {self.base_url} ({_reason(exc)}). Is the server running, and is the URL right?"
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"The connection to {self.base_url} failed ({_reason(exc)}).") from None
        if response.status_code >= 400:
            raise self._api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.base_url} answered {method} {path} with something that is not JSON; is it a Switchyard server?"
            ) from None

    def _api_error(self, response: httpx.Response) -> ApiError:
        message, code = _error_message(response)
        hint = self._unauthorized_hint if response.status_code == 401 else None
        return ApiError(response.status_code, message, code=code, hint=hint)


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    if "] " in text and text.startswith("[Errno"):
        text = text.split("] ", 1)[1]  # "[Errno 111] Connection refused" → "Connection refused"
    return text.lower().rstrip(".") if text else type(exc).__name__


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """The message of Switchyard's error shape, with a fallback for anything else that answers HTTP."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            code = error.get("code")
            return error["message"], code if isinstance(code, str) else None
        if isinstance(error, str):
            return error, None
        if isinstance(body.get("detail"), str):
            return body["detail"], None
    return response.reason_phrase or "Request failed.", None
