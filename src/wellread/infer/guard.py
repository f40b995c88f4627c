"""What keeps one client from holding the server: connection and request limits below the routes.

`GuardedH11Protocol` (the socket layer, one per connection) closes connections over the limit at once, gives
a request's line and headers `header_timeout` seconds, and closes a connection whose body the app did not read.
`RequestGuard` (ASGI middleware, every route) checks the bearer token, the body size and the body's deadline.
Idle keep-alive connections are closed by uvicorn's own `timeout_keep_alive`, oversized headers by h11's
16 KiB limit.

Why written here: uvicorn (0.55) has no header or body timeout (its keep-alive timer starts only after a first
response, and a trickling client cancels it with every byte), and its `limit_concurrency` answers 503 only when
a request arrives, so idle connections still take a file descriptor each until the process runs out; Starlette
has no body deadline. The subclass overrides only uvicorn's public protocol callbacks.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def json_error(status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(headers, body) of an {"error": message} reply that also closes the connection."""
    body = json.dumps({"error": message}).encode()
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")], body


def raw_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error reply, written to a socket before (or without) a parsed request."""
    headers, body = json_error(status, message)
    lines = [f"HTTP/1.1 {status} {reason}".encode()] + [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection limit, a header timeout, and no lingering unread bodies.

    Configure the class with `configured(max_connections, header_timeout)`; uvicorn makes one per connection.
    """

    max_connections = 256
    header_timeout = 5.0

    @classmethod
    def configured(cls, max_connections: int, header_timeout: float) -> type[GuardedH11Protocol]:
        return type(cls.__name__, (cls,), {"max_connections": max_connections, "header_timeout": header_timeout})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timer: asyncio.TimerHandle | None = None
        self.refused = len(self.connections) >= self.max_connections
        if self.refused:  # closed before it is counted: the limit bounds file descriptors too
            self.transport = transport
            transport.write(raw_response(503, "Service Unavailable",
                                         f"too many connections (the limit is {self.max_connections})"))
            transport.close()
            return
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if not self.refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a request has begun (or the connection is new): its headers have a deadline
        else:
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self.transport.close()  # answered without reading the body (401, 413, 404...): don't wait for the rest
            return
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        if self.header_timer is None and not self.transport.is_closing():
            self.header_timer = self.loop.call_later(self.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timeout(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            self.transport.write(raw_response(408, "Request Timeout",
                                              f"no complete request line and headers within {self.header_timeout:g} s"))
            self.transport.close()


class Refused(Exception):
    """Raised inside `RequestGuard`'s receive: the request is answered with `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RequestGuard:
    """ASGI middleware for every HTTP route: 401 without the bearer token (when one is set; /health is open),
    413 for a body over `max_body_bytes` (by Content-Length or while it streams in), 408 when the body takes
    longer than `body_timeout` seconds. Each of these replies closes the connection."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout: float, api_key: str | None = None,
                 open_paths: tuple[str, ...] = ("/health",)) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.body_timeout = body_timeout
        self.api_key = api_key.encode() if api_key else None
        self.open_paths = open_paths

    def authorized(self, scope: Scope) -> bool:
        if self.api_key is None:
            return True
        given = dict(scope.get("headers", [])).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.authorized(scope):
            if scope["path"] in self.open_paths:
                scope.setdefault("state", {})["public"] = True  # the route shows less (see serve.health)
            else:
                await reject(send, 401, "missing or wrong API key: send the header `Authorization: Bearer KEY`",
                             [(b"www-authenticate", b"Bearer")])
                return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await reject(send, 413, f"request body over the limit of {self.limit} bytes")
            return
        received = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        complete = False

        async def guarded() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: a later receive waits for the disconnect, with no deadline
                return await receive()
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    message = await receive()
            except TimeoutError:
                raise Refused(408, f"the request body did not arrive within {self.body_timeout:g} s") from None
            received += len(message.get("body", b""))
            if received > self.limit:
                raise Refused(413, f"request body over the limit of {self.limit} bytes")
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        try:
            await self.app(scope, guarded, send)
        except Refused as refused:
            await reject(send, refused.status, str(refused))


async def reject(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers, body = json_error(status, message)
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
