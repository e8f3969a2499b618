"""uvicorn's httptools protocol with the per-request costs of a gateway's traffic taken out.

uvicorn's ``RequestResponseCycle.send`` was the largest single cost of a governed request (18 % of py-spy's
samples at c=16, bench/RESULTS.md profiling step 13), and its connection arms a keep-alive timer after every
answer and cancels it on the next request. Three changes, the HTTP behaviour unchanged:

- **Writes are gathered per loop iteration.** What a response sends goes out in one write at the end of the
  loop's current pass, or at once with the response's last part: a JSON answer's head and body are one
  ``send`` system call, not two, and a stream's head goes out with its first events. More than
  ``GATHER_LIMIT`` bytes are written at once.
- **Header lines are checked once per name.** A name is checked and lower-cased the first time it is seen;
  values are checked together, on the finished head, for control characters and line breaks.
- **One keep-alive timer per connection**, armed when an answer ends and nothing else is armed; when it fires,
  it closes the connection if it has been idle long enough, or re-arms itself for the time that is left.

The rest — parsing, pipelining, flow control, 100-continue, upgrades, shutdown — is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from typing import Any

import httptools
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

GATHER_LIMIT = 65536
"""Bytes of a response held for the end of the loop's pass; past that, they are written at once."""

NAME_CACHE_LIMIT = 1024
"""Distinct header names remembered as checked (an application sends a few dozen)."""

_checked_names: dict[bytes, bytes] = {}
"""A header name as the application sent it → lower-cased, once it has passed uvicorn's name check."""

_CONTROL = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab, CR and LF (those two are counted: only the head's own line ends may
appear)."""


def _lower_name(name: bytes) -> bytes:
    lower = _checked_names.get(name)
    if lower is None:
        if HEADER_RE.search(name):
            raise RuntimeError("Invalid HTTP header name.")
        lower = name.lower()
        if len(_checked_names) < NAME_CACHE_LIMIT:
            _checked_names[name] = lower
    return lower


class GatheringCycle(RequestResponseCycle):
    """One request and its response, with the response's writes gathered (see the module's notes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loop = loop
        self.gathered: list[bytes] = []
        self.gathered_bytes = 0

    def _gather(self, data: bytes) -> None:
        if not self.gathered:
            self.loop.call_soon(self._write_gathered)
        self.gathered.append(data)
        self.gathered_bytes += len(data)
        if self.gathered_bytes > GATHER_LIMIT:
            self._write_gathered()

    def _write_gathered(self, last: bytes = b"") -> None:
        gathered = self.gathered
        if gathered:
            if last:
                gathered.append(last)
            data = b"".join(gathered) if len(gathered) > 1 else gathered[0]
            self.gathered = []
            self.gathered_bytes = 0
        else:
            data = last
        if data and not self.disconnected and not self.transport.is_closing():
            self.transport.write(data)

    def _head(self, status: int, headers: Any) -> bytes:
        lines = [STATUS_LINE[status]]
        has_connection_close = False
        for name, value in (*self.default_headers, *headers):
            name = _lower_name(name)
            if name == b"content-length" and self.chunked_encoding is None:
                self.expected_content_length = int(value.decode())
                self.chunked_encoding = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.expected_content_length = 0
                self.chunked_encoding = True
            elif name == b"connection":
                if b"close" in [token.lower().strip() for token in value.split(b",")]:
                    self.keep_alive = False
                    has_connection_close = True
            lines.append(b"%b: %b\r\n" % (name, value))
        if not self.keep_alive and not has_connection_close:
            lines.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True  # neither a length nor an encoding was given
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        # Each line ends once; a CR or LF more is in a value, as is any other control character but tab.
        if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines) or _CONTROL.search(head):
            raise RuntimeError("Invalid HTTP header value.")
        return head

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self.response_started = True
            self.waiting_for_100_continue = False
            status = message["status"]
            if self.access_log:
                self.access_logger.info(
                    '%s - "%s %s HTTP/%s" %d',
                    get_client_addr(self.scope),
                    self.scope["method"],
                    get_path_with_query_string(self.scope),
                    self.scope["http_version"],
                    status,
                )
            self._gather(self._head(status, message.get("headers", ())))
        elif not self.response_complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            body = message.get("body", b"")
            more_body = message.get("more_body", False)
            if self.scope["method"] == "HEAD":
                self.expected_content_length = 0
                data = b""
            elif self.chunked_encoding:
                data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
                if not more_body:
                    data += b"0\r\n\r\n"
            else:
                if len(body) > self.expected_content_length:
                    raise RuntimeError("Response content longer than Content-Length")
                self.expected_content_length -= len(body)
                data = body
            if more_body:
                if data:
                    self._gather(data)
                return
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self._write_gathered(data)
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")


class GatheringProtocol(HttpToolsProtocol):
    """uvicorn's httptools connection, running :class:`GatheringCycle` and one keep-alive timer."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.idle_since: float | None = None
        """Loop time the last answer ended at, while no new request has arrived; None while working."""
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.idle_since = None
        super().data_received(data)

    def on_headers_complete(self) -> None:
        parser = self.parser
        scope = self.scope
        http_version = parser.get_http_version()
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return
        url = httptools.parse_url(self.url)
        path = url.path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + url.path
        scope["query_string"] = url.query or b""

        app = self.app
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")

        previous = self.cycle
        self.cycle = GatheringCycle(
            self.loop,
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=self.expect_100_continue,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            on_response=self.on_response_complete,
        )
        if previous is None or previous.response_complete:
            self._start_asgi_task(self.cycle, app)
        else:  # pipelined: started when the answers before it are done
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _idle_check(self) -> None:
        """Closes the connection once it has been idle for the keep-alive timeout; while it works, the timer
        stays off (the next answer's end arms it)."""
        self.idle_timer = None
        if self.idle_since is None or self.transport.is_closing():
            return
        left = self.idle_since + self.timeout_keep_alive - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self.idle_timer = self.loop.call_later(left, self._idle_check)
