"""Switchyard's exception tree.

Services and adapters raise these; the HTTP layer turns them into a status and the one error body
(``{"error": {"message", "type", "code", "param"}}``) in exactly one place (``api/error_handlers.py``).

    SwitchyardError                       500  api_error
    ├── BadRequest                        400  invalid_request_error
    │   └── InvalidFilter                 400  invalid_request_error / invalid_filter
    ├── Unauthenticated                   401  authentication_error
    ├── PermissionDenied                  403  permission_error
    ├── NotFound                          404  not_found_error
    ├── MethodNotAllowed                  405  invalid_request_error / method_not_allowed
    ├── Conflict                          409  conflict_error
    ├── PayloadTooLarge                   413  invalid_request_error / payload_too_large
    ├── ValidationFailed                  422  invalid_request_error / validation_error
    ├── RateLimited                       429  rate_limit_error / rate_limit_exceeded
    │   └── InsufficientQuota             429  insufficient_quota: a budget is spent
    ├── UpstreamRejected                  4xx  the upstream refused the client's input: its status, passed on
    ├── ConfigurationError                500  the server cannot start with these settings
    └── UpstreamError                     502  upstream_error
        ├── UpstreamUnavailable           503  service_unavailable
        └── UpstreamTimeout               504  timeout_error

Messages are written for the person reading them: they say what was wrong and, where it helps, what to do.
They never carry a secret. ``retryable`` says whether the gateway may try another provider after it; ``headers``
are added to the answer (``Retry-After``).
"""

from __future__ import annotations


class SwitchyardError(Exception):
    """Base of every error Switchyard raises on purpose."""

    status = 500
    type = "api_error"
    code: str | None = None
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, param={self.param!r}, code={self.code!r})"


class BadRequest(SwitchyardError):
    status = 400
    type = "invalid_request_error"


class InvalidFilter(BadRequest):
    code = "invalid_filter"


class Unauthenticated(SwitchyardError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(SwitchyardError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(SwitchyardError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class MethodNotAllowed(SwitchyardError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class Conflict(SwitchyardError):
    status = 409
    type = "conflict_error"
    code = "conflict"


class PayloadTooLarge(SwitchyardError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class ValidationFailed(SwitchyardError):
    status = 422
    type = "invalid_request_error"
    code = "validation_error"


class RateLimited(SwitchyardError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class InsufficientQuota(RateLimited):
    type = "insufficient_quota"
    code = "insufficient_quota"


class ConfigurationError(SwitchyardError):
    """The server cannot start with these settings."""


class UpstreamRejected(SwitchyardError):
    """The upstream answered 4xx because of what the client sent: the client sees that status and message."""

    type = "invalid_request_error"

    def __init__(
        self, status: int, message: str, *, type_: str | None = None, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, code=code, param=param)
        self.status = status
        if type_:
            self.type = type_


class UpstreamError(SwitchyardError):
    status = 502
    type = "upstream_error"
    code = "bad_gateway"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    type = "service_unavailable"
    code = "service_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"
