"""The gunicorn worker of the model server: gthread, with requests read by the event loop.

Gunicorn's `gthread` worker hands a connection to a pool thread as soon as a byte arrives, and the
thread then blocks until the whole request head is in. A client that sends half a request line
(or trickles a body) pins that thread for as long as it likes; with the service's one thread per
worker, two such clients stop every other request, `/healthcheck` included, and Kubernetes' liveness
probe kills a healthy pod.

This worker keeps gthread's pool and its keep-alive poller, and changes when a request reaches a
thread: the worker's main loop (one selector for every socket) reads the request head, and a body
of known length up to the service's `max_body_bytes`, without blocking, and hands the request to a
pool thread only when it is complete. Idle, slow or half-sent connections therefore cost a buffer,
never a thread, and each has a deadline:

- a new connection must send a complete head within `header_timeout` seconds, a kept-alive one its
  next request within `keepalive` seconds of the last response: idle connections are closed, a
  half-sent head is answered `408` (RFC 9110 section 15.5.9);
- a head larger than `max_head_bytes` is answered `431` (RFC 6585 section 5);
- a body still arriving `header_timeout` seconds after its head is answered `408`.

Every error gunicorn answers itself (malformed request line, over-long URI or headers, conflicting
Content-Length/Transfer-Encoding, bad chunk sizes) is JSON, `{"error": ..., "status": ...}`, as the
app's own errors are; a client that goes away gets no answer and is logged at debug level.

With `reuse_port` each worker has its own listening socket and queue, and the kernel spreads new
connections over the sockets blindly. So a worker listens only once its app is loaded (gunicorn
opens the socket before: a booting worker's share of connections would wait seconds for a model
to load), and a worker stopping (SIGTERM, or a restart the app asks for after an endpoint hung)
first accepts the connections already queued on its socket, then closes it: the kernel resets
the connections left in a closed one.
"""

from __future__ import annotations

import contextlib
import errno
import http
import json
import re
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn import sock as gunicorn_sock
from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from liminal_pulumi import defaults

_HEAD_END = re.compile(rb"\r?\n\r?\n")
# Only to decide when a body has fully arrived; gunicorn's parser still parses the request. A wrong
# guess costs a wait (bounded by the deadline), never a misread request.
_CONTENT_LENGTH = re.compile(
    rb"\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*(?=\r?\n)", re.IGNORECASE
)
_OTHER_FRAMING = re.compile(rb"\n(?:transfer-encoding|expect)[ \t]*:", re.IGNORECASE)
_RECV_BYTES = 64 * 1024
# How long a refused connection is read (and its bytes dropped) before it is closed.
_LINGER_SECONDS = 2.0

# Gunicorn's parse errors and the status each deserves; any other ParseException is a 400.
_CLIENT_ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (http_errors.LimitRequestLine, 414),
    (http_errors.LimitRequestHeaders, 431),
    (http_errors.UnsupportedTransferCoding, 501),
    (http_errors.ExpectationFailed, 417),
    (http_errors.ForbiddenProxyRequest, 403),
)
_SERVER_FAULTS = (
    http_errors.InvalidResponseHeader,
    http_errors.InvalidResponseHeaderName,
    http_errors.ConfigurationProblem,
)


def json_error_bytes(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection, its body the app's JSON."""
    body = json.dumps({"error": message, "status": status}).encode()
    reason = http.HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def error_status(exc: BaseException) -> int:
    """The status of a request gunicorn could not parse: 4xx for the client's errors, else 500."""
    if isinstance(exc, _SERVER_FAULTS):
        return 500
    for kind, status in _CLIENT_ERROR_STATUS:
        if isinstance(exc, kind):
            return status
    return 400 if isinstance(exc, http_errors.ParseException) else 500


def request_progress(buffer: bytes | bytearray, max_body_bytes: int) -> tuple[bool, bool]:
    """(whether `buffer` holds a whole request head, whether the request can go to a thread).

    A request can go once its head and, when its Content-Length is given, its body are in; a body
    framed otherwise (chunked, `Expect: 100-continue`) or over `max_body_bytes` goes with its head:
    the thread reads the rest (each wait bounded by the socket timeout the app sets) or answers
    413 without reading it.
    """
    end = _HEAD_END.search(buffer)
    if end is None:
        return False, False
    head = bytes(buffer[: end.end()])
    if _OTHER_FRAMING.search(head):
        return True, True
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) != 1:  # none: no body; several: the parser refuses the request
        return True, True
    length = int(lengths[0])
    return True, length > max_body_bytes or len(buffer) - end.end() >= length


class _Waiting:
    """A connection whose request the main loop is still reading."""

    __slots__ = ("buffer", "deadline", "started")

    def __init__(self, buffer: bytes, deadline: float, started: bool) -> None:
        self.buffer = bytearray(buffer)
        self.deadline = deadline
        self.started = started  # a byte of this request arrived (else: an idle connection)


class LiminalThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread whose pool threads only ever see complete requests (see the module docstring).

    Settings: gunicorn's `keepalive`, `threads`, `worker_connections`, and `header_timeout`,
    `max_head_bytes`, `max_body_bytes` from `liminal_pulumi.serving.gunicorn_config` through the
    worker class attributes set there (gunicorn has no setting for them).
    """

    header_timeout: float = defaults.SERVICE_HEADER_TIMEOUT_SECONDS
    max_head_bytes: int = defaults.SERVICE_MAX_HEAD_BYTES
    max_body_bytes: int = defaults.SERVICE_MAX_BODY_BYTES
    _accepting: bool
    sockets: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: dict[TConn, _Waiting] = {}
        self._closing: dict[TConn, float] = {}  # answered and shut down: read until EOF or then
        self._early: list[tuple[socket.socket, Any, Any]] = []  # accepted before the app loaded

    # --- reading requests in the main loop ------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        self._wait_for_request(conn, b"", time.monotonic() + self.header_timeout, started=False)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection has bytes: read its next request here, not in a thread."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._wait_for_request(conn, b"", conn.timeout, started=False)
        self._on_readable(conn, client)

    def enqueue_req(self, conn: TConn) -> None:
        """Gunicorn calls this for a kept-alive connection with read-ahead bytes (a pipelined
        request): a thread takes it only if that request is complete."""
        if conn.parser is None or conn in self._waiting:
            super().enqueue_req(conn)
            return
        buffered = conn.parser.unreader.take_buffered()
        deadline = time.monotonic() + self.header_timeout
        self._wait_for_request(conn, buffered, deadline, started=bool(buffered))
        self._dispatch_if_complete(conn)

    def _wait_for_request(
        self, conn: TConn, buffered: bytes, deadline: float, *, started: bool
    ) -> None:
        conn.sock.setblocking(False)
        self._waiting[conn] = _Waiting(buffered, deadline, started)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: TConn, client: socket.socket) -> None:
        waiting = self._waiting.get(conn)
        if waiting is None:
            return
        try:
            data = client.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away (or reset): nothing to answer
            self._drop(conn)
            return
        if not waiting.started:
            waiting.started = True
            waiting.deadline = time.monotonic() + self.header_timeout
        waiting.buffer += data
        self._dispatch_if_complete(conn)

    def _dispatch_if_complete(self, conn: TConn) -> None:
        waiting = self._waiting[conn]
        has_head, ready = request_progress(waiting.buffer, self.max_body_bytes)
        if not has_head and len(waiting.buffer) > self.max_head_bytes:
            self._reject(conn, 431, f"request head is over {self.max_head_bytes} bytes")
        elif ready:
            self._unwatch(conn)
            conn.init()
            conn.parser.unreader.unread(bytes(waiting.buffer))
            conn.data_ready = True
            super().enqueue_req(conn)

    def _expire_waiting(self) -> None:
        now = time.monotonic()
        for conn in [conn for conn, deadline in self._closing.items() if deadline <= now]:
            self._finish_closing(conn)
        expired = [conn for conn, waiting in self._waiting.items() if waiting.deadline <= now]
        for conn in expired:
            if self._waiting[conn].started:
                self._reject(
                    conn, 408, f"request not received within {self.header_timeout:g} seconds"
                )
            else:
                self._drop(conn)

    def murder_pending(self) -> None:
        # Called on every turn of gthread's main loop (at least once a second).
        super().murder_pending()
        self._expire_waiting()

    def _unwatch(self, conn: TConn) -> None:
        self._waiting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: TConn) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        conn.close()

    def _reject(self, conn: TConn, status: int, message: str) -> None:
        """Answer and close without a thread; the client's unread bytes are read and dropped for
        a moment, since closing a socket with unread input resets it and loses the answer."""
        self.log.info("Refused request from %s: %s %s", _peer(conn.client), status, message)
        self._unwatch(conn)
        try:
            conn.sock.send(json_error_bytes(status, message))  # small: fits the socket buffer
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.nr_conns -= 1
            conn.close()
            return
        self._closing[conn] = time.monotonic() + _LINGER_SECONDS
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_closing, conn))

    def _on_closing(self, conn: TConn, client: socket.socket) -> None:
        try:
            if client.recv(_RECV_BYTES):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._finish_closing(conn)

    def _finish_closing(self, conn: TConn) -> None:
        if self._closing.pop(conn, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    # --- starting ---------------------------------------------------------------------------------

    def load_wsgi(self) -> None:
        if not (self.cfg.reuse_port and hasattr(socket, "SO_REUSEPORT")):
            super().load_wsgi()  # one socket shared with the master and the other workers
            return
        early: list[tuple[socket.socket, Any, Any]] = []
        for listener in self.sockets:  # take what was queued in the moment since gunicorn bound
            listener.setblocking(False)
            with contextlib.suppress(OSError):
                while True:
                    client, address = listener.accept()
                    early.append((client, address, listener.getsockname()))
            listener.close()
        super().load_wsgi()
        self.sockets = gunicorn_sock.create_sockets(self.cfg, self.log)
        for listener in self.sockets:
            util.close_on_exec(listener.fileno())
        self._early = early

    def run(self) -> None:
        for client, address, server in self._early:
            self.nr_conns += 1
            conn = TConn(self.cfg, client, address, server)
            self._wait_for_request(conn, b"", time.monotonic() + self.header_timeout, started=False)
        self._early = []
        super().run()
        for conn in list(self._waiting):  # still idle or half-sent when the grace ran out
            self._drop(conn)
        for conn in list(self._closing):
            self._finish_closing(conn)

    # --- stopping -------------------------------------------------------------------------------

    def set_accept_enabled(self, enabled: bool) -> None:
        """Gthread calls this with False when the worker starts stopping: take what is queued."""
        if self.alive:
            super().set_accept_enabled(enabled)
            return
        if not self._accepting:
            return
        for listener in self.sockets:
            while True:
                before = self.nr_conns
                self.accept(listener)  # non-blocking: returns at once when the queue is empty
                if self.nr_conns == before:
                    break
            self.poller.unregister(listener)
            listener.close()
        self._accepting = False

    # --- errors ---------------------------------------------------------------------------------

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Gunicorn's error page, as JSON: 4xx for requests it could not parse, else 500."""
        status = error_status(exc)
        if status >= 500:
            self.log.exception("Error handling request (error %s)", status)
            message = "internal server error"
        else:
            self.log.info("Invalid request from %s: %s", _peer(addr), exc)
            message = f"invalid request: {exc}" if str(exc) else "invalid request"
        try:
            util.write_nonblock(client, json_error_bytes(status, message))
        except Exception:
            self.log.debug("Failed to send the error response.")


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "unix socket")
