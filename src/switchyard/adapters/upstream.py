"""HTTP calls to upstreams: pooled keep-alive connections per origin, and transport errors mapped into the tree.

Requests with a plain body go through ``adapters/http1.py``, a lean HTTP/1.1 client (aiohttp's cost ~125 µs of
CPU per call here, most of it set-up a gateway's call does not use: bench/RESULTS.md, profiling step 12);
multipart forms and ``HEAD`` through one aiohttp session per origin. Not httpx on this path: measured on the
2-core machine, a bare proxy passed ~7,000 req/s with aiohttp and ~500 with httpx, whose pool scans every
connection per request (DESIGN.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from switchyard import __version__
from switchyard.adapters.http1 import ConnectFailed, Disconnected, Origin, header_lines
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
    """The longest wait for any part of the answer: its head, then each piece of its body."""
    total: float
    client: aiohttp.ClientTimeout = field(init=False, repr=False, compare=False)
    """The same as aiohttp's, made once (keep one ``CallTimeouts`` per provider, not one per call)."""

    def __post_init__(self) -> None:
        client = aiohttp.ClientTimeout(total=self.total, sock_connect=self.connect, sock_read=self.first_byte)
        object.__setattr__(self, "client", client)


DEFAULT_HEADERS = {"User-Agent": f"switchyard/{__version__}", "Accept": "*/*", "Accept-Encoding": "identity"}
"""Sent to every upstream unless the request sets them. ``identity``: the gateway reads and relays bodies as they
come, so they must not be compressed."""

MAX_URLS_CACHED = 4096
MAX_HEADER_SETS_CACHED = 1024


class UpstreamResponse(Protocol):
    """An upstream's answer, whichever client read it."""

    status: int

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    def content_type(self) -> str: ...

    async def read(self) -> bytes: ...

    async def readany(self) -> bytes: ...

    def is_eof(self) -> bool: ...

    def release(self) -> None: ...


class UpstreamPool:
    def __init__(self, *, connections_per_origin: int = 512) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._origins: dict[str, Origin] = {}
        self._urls: dict[str, tuple[Origin, bytes]] = {}
        """URL → its origin's connections and its request target (``urlsplit`` costs more than the lookup, and a
        provider's URLs repeat)."""
        self._lines: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._limit = connections_per_origin

    def _target(self, url: str) -> tuple[Origin, bytes]:
        found = self._urls.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UpstreamUnavailable(f"The upstream URL {url!r} is not an http(s) URL.", code=CONNECT_ERROR)
            key = f"{parts.scheme}://{parts.netloc}"
            origin = self._origins.get(key)
            if origin is None or origin.closed:
                host_header = parts.netloc.rpartition("@")[2]
                origin = Origin(parts.scheme, parts.hostname, parts.port, host_header, limit=self._limit)
                self._origins[key] = origin
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            found = (origin, path.encode("ascii"))
            if len(self._urls) >= MAX_URLS_CACHED:  # pass-through URLs vary with their path: stay bounded
                self._urls.clear()
            self._urls[url] = found
        return found

    def _session(self, url: str) -> aiohttp.ClientSession:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        session = self._sessions.get(origin)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, keepalive_timeout=60)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False, headers=DEFAULT_HEADERS)
            self._sessions[origin] = session
        return session

    def _header_lines(self, headers: dict[str, str]) -> bytes:
        """The request's headers and the defaults it does not set itself, encoded once per distinct set."""
        key = tuple(headers.items())
        lines = self._lines.get(key)
        if lines is None:
            given = {name.lower() for name in headers}
            defaults = [(name, value) for name, value in DEFAULT_HEADERS.items() if name.lower() not in given]
            lines = header_lines([*key, *defaults])
            if len(self._lines) >= MAX_HEADER_SETS_CACHED:
                self._lines.clear()
            self._lines[key] = lines
        return lines

    def open(self, request: UpstreamRequest, timeouts: CallTimeouts) -> Opened:
        """``async with pool.open(…) as response``: the upstream's response, its headers read, released at the
        end. Errors before that are ``UpstreamUnavailable`` (nothing was answered: another provider may be tried)
        or ``UpstreamTimeout``."""
        return Opened(self, request, timeouts)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        origins, self._origins = list(self._origins.values()), {}
        self._urls.clear()
        for origin in origins:
            origin.close()
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)


class Opened:
    """The context manager ``UpstreamPool.open`` returns (a class: lighter than a generator-based one, and this
    is every upstream call's path)."""

    __slots__ = ("_pool", "_request", "_response", "_timeouts")

    def __init__(self, pool: UpstreamPool, request: UpstreamRequest, timeouts: CallTimeouts) -> None:
        self._pool = pool
        self._request = request
        self._timeouts = timeouts
        self._response: UpstreamResponse | None = None

    async def __aenter__(self) -> UpstreamResponse:
        request = self._request
        timeouts = self._timeouts
        try:
            if request.form is not None or request.method == "HEAD":
                response: UpstreamResponse = await self._through_aiohttp()
            else:
                origin, target = self._pool._target(request.url)
                response = await origin.request(
                    request.method,
                    target,
                    self._pool._header_lines(request.headers),
                    request.body,
                    connect_timeout=timeouts.connect,
                    read_timeout=timeouts.first_byte,
                    total_timeout=timeouts.total,
                )
        except TimeoutError:
            raise UpstreamTimeout("The upstream did not answer in time.") from None
        except ConnectFailed as exc:
            raise UpstreamUnavailable(
                f"Could not connect to the upstream ({exc.os_error}).", code=CONNECT_ERROR
            ) from None
        except (Disconnected, OSError) as exc:
            raise UpstreamUnavailable(f"The upstream connection failed ({_reason(exc)}).", code=CONNECT_ERROR) from None
        except ValueError as exc:  # a header with a line break: sending it would split the request
            raise UpstreamError(f"The request could not be sent to the upstream: {exc}.") from None
        self._response = response
        return response

    async def _through_aiohttp(self) -> AiohttpResponse:
        request = self._request
        data: Any = request.form if request.form is not None else request.body
        try:
            response = await self._pool._session(request.url).request(
                request.method, request.url, headers=request.headers, data=data, timeout=self._timeouts.client
            )
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(exc.os_error) from None
        except aiohttp.ClientError as exc:
            raise Disconnected(type(exc).__name__) from None
        return AiohttpResponse(response)

    async def __aexit__(self, *_: object) -> None:
        if self._response is not None:
            self._response.release()


class AiohttpResponse:
    """An aiohttp response behind the same reading methods as ``http1.Response``, its errors as that one's."""

    __slots__ = ("_response", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self._response.headers

    def content_type(self) -> str:
        return self._response.headers.get("Content-Type", "")

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except aiohttp.ClientError as exc:
            raise Disconnected(type(exc).__name__) from None

    async def readany(self) -> bytes:
        try:
            return await self._response.content.readany()
        except aiohttp.ClientError as exc:
            raise Disconnected(type(exc).__name__) from None

    def is_eof(self) -> bool:
        return self._response.content.is_eof()

    def release(self) -> None:
        self._response.release()


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Disconnected) else type(exc).__name__


async def read_body(response: UpstreamResponse) -> bytes:
    """The whole body; a broken or slow body is an upstream error, never a crash."""
    try:
        return await response.read()
    except TimeoutError:
        raise UpstreamTimeout("The upstream stopped sending its answer.") from None
    except (Disconnected, OSError) as exc:
        raise UpstreamError(f"The upstream's answer was cut off ({_reason(exc)}).") from None


async def iter_chunks(response: UpstreamResponse) -> AsyncIterator[bytes]:
    """The body as it arrives."""
    while chunk := await read_chunk(response):
        yield chunk


async def read_chunk(response: UpstreamResponse) -> bytes:
    """What has arrived of the body, waiting for some if nothing has; ``b""`` at its end."""
    try:
        return await response.readany()
    except TimeoutError:
        raise UpstreamTimeout("The upstream stopped streaming.") from None
    except (Disconnected, OSError) as exc:
        raise UpstreamError(f"The upstream's stream was cut off ({_reason(exc)}).") from None


def body_ended(response: UpstreamResponse) -> bool:
    """Whether the whole body has been read: its end arrived, and nothing is left to read."""
    return response.is_eof()
