"""HTTP calls to upstreams: one pooled aiohttp session per origin, and transport errors mapped into the tree.

aiohttp rather than httpx on this path: measured on the 2-core machine, a bare proxy passed ~7,000 req/s with
aiohttp and ~500 with httpx, whose pool scans every connection per request (DESIGN.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from switchyard import __version__
from switchyard.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

CONNECT_ERROR = "upstream_connect_error"
"""The code of errors where no answer came at all: refused, reset or closed connections."""


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    form: aiohttp.FormData | None = None


@dataclass(frozen=True, slots=True)
class CallTimeouts:
    connect: float
    first_byte: float
    total: float
    client: aiohttp.ClientTimeout = field(init=False, repr=False, compare=False)
    """The same as aiohttp's, made once (keep one ``CallTimeouts`` per provider, not one per call)."""

    def __post_init__(self) -> None:
        client = aiohttp.ClientTimeout(total=self.total, sock_connect=self.connect, sock_read=self.first_byte)
        object.__setattr__(self, "client", client)


DEFAULT_HEADERS = {"User-Agent": f"switchyard/{__version__}", "Accept": "*/*", "Accept-Encoding": "identity"}
"""Sent to every upstream unless the request sets them. ``identity``: the gateway reads and relays bodies as they
come (``auto_decompress=False``), so they must not be compressed. Giving aiohttp all its automatic headers also
spares it the per-request merge that ``skip_auto_headers`` costs."""


MAX_ORIGINS_CACHED = 4096


class UpstreamPool:
    def __init__(self, *, connections_per_origin: int = 512) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._origins: dict[str, str] = {}
        """URL → its origin (``urlsplit`` costs more than the lookup, and a provider's URLs repeat)."""
        self._limit = connections_per_origin

    def _session(self, url: str) -> aiohttp.ClientSession:
        origin = self._origins.get(url)
        if origin is None:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if len(self._origins) >= MAX_ORIGINS_CACHED:  # pass-through URLs vary with their path: stay bounded
                self._origins.clear()
            self._origins[url] = origin
        session = self._sessions.get(origin)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, keepalive_timeout=60)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False, headers=DEFAULT_HEADERS)
            self._sessions[origin] = session
        return session

    def open(self, request: UpstreamRequest, timeouts: CallTimeouts) -> Opened:
        """``async with pool.open(…) as response``: the upstream's response, its headers read, released at the
        end. Errors before that are ``UpstreamUnavailable`` (nothing was answered: another provider may be tried)
        or ``UpstreamTimeout``."""
        return Opened(self._session(request.url), request, timeouts)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)


class Opened:
    """The context manager ``UpstreamPool.open`` returns (a class: lighter than a generator-based one, and this
    is every upstream call's path)."""

    __slots__ = ("_request", "_response", "_session", "_timeouts")

    def __init__(self, session: aiohttp.ClientSession, request: UpstreamRequest, timeouts: CallTimeouts) -> None:
        self._session = session
        self._request = request
        self._timeouts = timeouts
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        request = self._request
        data: Any = request.form if request.form is not None else request.body
        try:
            response = await self._session.request(
                request.method, request.url, headers=request.headers, data=data, timeout=self._timeouts.client
            )
        except TimeoutError:
            raise UpstreamTimeout("The upstream did not answer in time.") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnavailable(
                f"Could not connect to the upstream ({exc.os_error}).", code=CONNECT_ERROR
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(
                f"The upstream connection failed ({type(exc).__name__}).", code=CONNECT_ERROR
            ) from None
        self._response = response
        return response

    async def __aexit__(self, *_: object) -> None:
        if self._response is not None:
            self._response.release()


async def read_body(response: aiohttp.ClientResponse) -> bytes:
    """The whole body; a broken or slow body is an upstream error, never a crash."""
    try:
        return await response.read()
    except TimeoutError:
        raise UpstreamTimeout("The upstream stopped sending its answer.") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamError(f"The upstream's answer was cut off ({type(exc).__name__}).") from None


async def iter_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as it arrives."""
    while chunk := await read_chunk(response):
        yield chunk


async def read_chunk(response: aiohttp.ClientResponse) -> bytes:
    """What has arrived of the body, waiting for some if nothing has; ``b""`` at its end."""
    try:
        return await response.content.readany()
    except TimeoutError:
        raise UpstreamTimeout("The upstream stopped streaming.") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamError(f"The upstream's stream was cut off ({type(exc).__name__}).") from None


def body_ended(response: aiohttp.ClientResponse) -> bool:
    """Whether the whole body has been read: its end arrived, and nothing is left to read."""
    return response.content.is_eof()
