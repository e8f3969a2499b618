"""How an upstream's error status becomes an error of ours; shared by every wire format."""

from __future__ import annotations

from switchyard.errors import (
    RateLimited,
    SwitchyardError,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

CLIENT_STATUSES = frozenset({400, 409, 413, 415, 422})


def from_status(
    status: int, message: str, *, type_: str | None = None, code: str | None = None, param: str | None = None
) -> SwitchyardError:
    """400/409/413/415/422: the client's input — passed on as is. 401/403/404: the provider is misconfigured
    (its key or model) — 502, and another provider may be tried. 429 and 5xx: another provider may be tried."""
    detail = message or f"HTTP {status}"
    if status in CLIENT_STATUSES:
        return UpstreamRejected(status, detail, type_=type_, code=code, param=param)
    if status == 429:
        return RateLimited(
            f"The upstream is rate limiting: {detail}", code=code or "upstream_rate_limited", retryable=True
        )
    if status in (401, 403):
        return UpstreamError(
            f"The upstream refused the provider's credentials ({status}): {detail}", code="upstream_auth"
        )
    if status == 404:
        return UpstreamError(
            f"The upstream does not know this model or path (404): {detail}", code="upstream_not_found"
        )
    if status == 503:
        return UpstreamUnavailable(f"The upstream is unavailable: {detail}")
    if status in (408, 504):
        return UpstreamTimeout(f"The upstream timed out: {detail}")
    if 400 <= status < 500:
        return UpstreamRejected(status, detail, type_=type_, code=code, param=param)
    return UpstreamError(f"The upstream failed ({status}): {detail}")
