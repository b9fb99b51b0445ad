"""The server as an attacker or a careless client meets it (issue 11), under real gunicorn on a free
loopback port: slow and idle connections, malformed and cut requests, hung endpoints, odd JSON,
and SIGTERM under keep-alive load. One worker with one thread unless a test says otherwise, so
a single pinned thread would show.

Timeouts are generous (the machine is shared), but each test asserts the property: an answer,
its status and its JSON, not only that the server still runs.
"""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from serving_helpers import Launch, Server, post_json, request

from liminal_pulumi.dsl.model import Endpoint

HEADER_TIMEOUT = 5
# Longer than HEADER_TIMEOUT, the bound put on every probe: a probe that waited for the hung
# call would exceed it.
ENDPOINT_TIMEOUT = 8

USER_MODULE = """
import json, time


def echo(body):
    return {"length": len(body)}


def hang(body):
    while True:
        time.sleep(0.1)


def nan_text():
    return '{"probability": NaN}'


def parse(body):
    return {"keys": sorted(json.loads(body))}
"""


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fault_app")
    (folder / "fault_endpoints.py").write_text(textwrap.dedent(USER_MODULE))
    return folder


def endpoints() -> list[Endpoint]:
    return [
        Endpoint(endpoint=f"/{name}", module="fault_endpoints", function=name)
        for name in ("echo", "hang", "nan_text", "parse")
    ]


def server_args(workers: int = 1) -> list[str]:
    return [
        "--workers",
        str(workers),
        "--threads",
        "1",
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--timeout",
        str(ENDPOINT_TIMEOUT),
        "--max-body-bytes",
        "100000",
    ]


@pytest.fixture(scope="module")
def server(launch_module: Launch, app_dir: Path) -> Server:
    return launch_module(app_dir, endpoints(), extra_args=server_args())


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def raw_exchange(port: int, data: bytes, *, half_close: bool = False) -> tuple[int, dict, bytes]:
    """Send raw bytes; the status line, headers and body of the one answer."""
    with connect(port) as client:
        client.sendall(data)
        if half_close:
            client.shutdown(socket.SHUT_WR)
        return read_response(client)


def read_response(
    client: socket.socket, pending: bytearray | None = None
) -> tuple[int, dict, bytes]:
    """One answer; bytes read past it (a pipelined answer) are kept in `pending` when given."""
    received = bytes(pending or b"")
    while b"\r\n\r\n" not in received:
        chunk = client.recv(65536)
        assert chunk, f"connection closed without an answer (got {received!r})"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = client.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        body += chunk
    if pending is not None:
        pending[:] = body[length:]
    return int(lines[0].split()[1]), headers, body[:length]


def assert_json_error(answer: tuple[int, dict, bytes], status: int) -> None:
    code, headers, body = answer
    assert code == status, body
    assert headers["content-type"] == "application/json"
    document = json.loads(body)
    assert document["status"] == status and document["error"]


def timed_healthcheck(port: int) -> float:
    started = time.monotonic()
    reply = request(port, "GET", "/healthcheck")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})
    return time.monotonic() - started


@contextmanager
def attached(port: int, idle: int, slow: int) -> Iterator[list[socket.socket]]:
    """`idle` connections that send nothing and `slow` ones that sent half a request line."""
    sockets = [connect(port) for _ in range(idle)]
    for _ in range(slow):
        client = connect(port)
        client.sendall(b"GET /heal")
        sockets.append(client)
    try:
        yield sockets
    finally:
        for client in sockets:
            client.close()


# --- slow and idle clients -----------------------------------------------------------------------


def test_healthcheck_answers_with_dozens_of_idle_and_slow_connections(server: Server) -> None:
    with attached(server.port, idle=50, slow=10):
        time.sleep(0.5)  # let the worker accept them all
        # One worker, one thread: a thread pinned by any of the 60 would stop these.
        latencies = [timed_healthcheck(server.port) for _ in range(10)]
    # The plain server needed HEADER_TIMEOUT per pinned thread at best; here none is pinned.
    assert max(latencies) < HEADER_TIMEOUT, latencies


def test_a_trickled_request_head_is_answered_408_and_holds_no_thread(server: Server) -> None:
    with connect(server.port) as slow:
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        for _ in range(3):  # keep it trickling: each byte well within any per-read timeout
            slow.sendall(b"X")
            assert timed_healthcheck(server.port) < HEADER_TIMEOUT
            time.sleep(0.2)
        answer = read_response(slow)
        assert_json_error(answer, 408)
        assert time.monotonic() - started >= HEADER_TIMEOUT - 1
        assert answer[1]["connection"] == "close"


def test_a_trickled_body_is_answered_408_and_holds_no_thread(server: Server) -> None:
    with connect(server.port) as slow:
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{")
        assert timed_healthcheck(server.port) < HEADER_TIMEOUT
        assert_json_error(read_response(slow), 408)
    assert post_json(server.port, "/echo", {"a": 1}).json() == {"length": 8}


def test_an_idle_connection_is_closed_without_an_answer(server: Server) -> None:
    with connect(server.port) as idle:
        idle.settimeout(HEADER_TIMEOUT + 20)
        assert idle.recv(100) == b""  # closed, nothing sent: there was no request to answer


def test_keep_alive_connection_serves_several_requests(server: Server) -> None:
    with connect(server.port) as client:
        for index in range(3):
            body = b"x" * index
            client.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % index)
            client.sendall(body)
            code, headers, answer = read_response(client)
            assert (code, json.loads(answer)) == (200, {"length": index})
            assert headers.get("connection") != "close"
        # two requests in one write (pipelined) are both answered, in order
        client.sendall(
            b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /healthcheck HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        pending = bytearray()
        assert json.loads(read_response(client, pending)[2]) == {"length": 0}
        assert json.loads(read_response(client, pending)[2]) == {"status": "ok"}


# --- errors before the app: JSON with the right 4xx ---------------------------------------------

PREFIX = b"POST /echo HTTP/1.1\r\nHost: a\r\n"
MALFORMED = {
    "garbage_request_line": (b"GARBAGE\r\n\r\n", 400),
    "bad_http_version": (b"GET / HTTP/9.9\r\nHost: a\r\n\r\n", 400),
    "long_uri": (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    "huge_headers": (
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
        + b"\r\n",
        431,
    ),
    "many_headers": (
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        + b"\r\n",
        431,
    ),
    "content_length_and_chunked": (
        PREFIX + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "two_content_lengths": (PREFIX + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    "negative_content_length": (PREFIX + b"Content-Length: -1\r\n\r\n", 400),
    "bad_chunk_size": (PREFIX + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    # RFC 9112 section 6.3: a request whose last coding is not chunked has no length, so 400
    "unknown_transfer_coding": (PREFIX + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    "header_without_colon": (b"GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400),
    "nul_in_header": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_requests_get_json_errors(server: Server, case: str) -> None:
    data, status = MALFORMED[case]
    assert_json_error(raw_exchange(server.port, data), status)
    assert timed_healthcheck(server.port) < HEADER_TIMEOUT


def test_an_aborted_upload_is_no_server_error(server: Server) -> None:
    before = server_errors(server)
    with connect(server.port) as client:  # half the body, then gone
        client.sendall(PREFIX + b"Content-Length: 1000\r\n\r\n" + b"x" * 500)
    with connect(server.port) as client:  # a chunked body cut in the middle of a chunk
        client.sendall(PREFIX + b"Transfer-Encoding: chunked\r\n\r\n100\r\nabc")
        client.shutdown(socket.SHUT_WR)
        client.settimeout(30)
        while client.recv(65536):
            pass  # whatever it answers (a 400 at most), it must close
    assert post_json(server.port, "/echo", {"after": "abort"}).status == 200
    assert server_errors(server) == before


def server_errors(server: Server) -> float:
    text = request(server.port, "GET", "/metrics").body.decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("liminal_http_request_errors_total{") and 'status="5' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- JSON bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"x": NaN}', b'{"x": Infinity}', b"[-Infinity]", b"NaN"],
    ids=["nan", "infinity", "minus_infinity", "bare_nan"],
)
def test_non_json_numbers_in_a_json_body_are_400(server: Server, body: bytes) -> None:
    reply = request(server.port, "POST", "/parse", body, {"Content-Type": "application/json"})
    assert reply.status == 400
    assert "not valid JSON" in reply.json()["error"]  # type: ignore[index]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_deeply_nested_json_is_400_not_a_traceback(server: Server, content_type: str) -> None:
    body = b"[" * 50000 + b"]" * 50000
    reply = request(server.port, "POST", "/parse", body, {"Content-Type": content_type})
    assert reply.status == 400, reply.body
    assert reply.json() == {"error": "request body is nested too deeply to parse", "status": 400}
    assert "Traceback" not in server.log()


def test_a_returned_string_with_nan_is_not_labelled_json(server: Server) -> None:
    reply = request(server.port, "GET", "/nan_text")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")


# --- hung endpoint -------------------------------------------------------------------------------


def test_a_hung_endpoint_is_answered_504_and_the_server_stays_responsive(
    launch: Launch, app_dir: Path
) -> None:
    server = launch(app_dir, endpoints(), extra_args=server_args(workers=2))
    replies = []
    hung = threading.Thread(target=lambda: replies.append(request(server.port, "GET", "/hang")))
    started = time.monotonic()
    hung.start()
    while hung.is_alive():  # answered meanwhile, while the endpoint hangs
        assert timed_healthcheck(server.port) < HEADER_TIMEOUT
        time.sleep(0.1)
    hung.join()
    elapsed = time.monotonic() - started
    (reply,) = replies
    assert reply.status == 504
    assert reply.json() == {
        "error": f"the endpoint did not answer within {ENDPOINT_TIMEOUT} seconds",
        "status": 504,
    }
    assert ENDPOINT_TIMEOUT <= elapsed < ENDPOINT_TIMEOUT + 20
    # The worker with the stuck thread restarts; the server keeps answering throughout.
    deadline = time.monotonic() + 60
    while "restarts: an endpoint call is stuck" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    for index in range(20):
        assert post_json(server.port, "/echo", {"n": index}).status == 200
    # a second hang is handled the same way by the fresh worker
    assert request(server.port, "GET", "/hang").status == 504
    assert server.process.poll() is None


# --- SIGTERM under keep-alive load ---------------------------------------------------------------


class KeepAliveClient(threading.Thread):
    """Sends requests on one kept-alive connection; reconnects to `target()` when the server closes
    it (after an answer with `Connection: close`), as a client behind kube-proxy would."""

    def __init__(self, target: list[int], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.stop_event = stop
        self.statuses: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        client: socket.socket | None = None
        while not self.stop_event.is_set():
            try:
                if client is None:
                    client = connect(self.target[0])
                client.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
                status, headers, _ = read_response(client)
                self.statuses.append(status)
                if headers.get("connection") == "close":
                    client.close()
                    client = None
            except (OSError, AssertionError) as error:
                self.errors.append(repr(error))
                if client is not None:
                    client.close()
                client = None
        if client is not None:
            client.close()


def test_sigterm_under_keep_alive_load_loses_no_request(launch: Launch, app_dir: Path) -> None:
    old = launch(app_dir, endpoints(), extra_args=server_args(workers=2))
    new = launch(app_dir, endpoints(), extra_args=server_args(workers=2))
    target = [old.port]
    stop = threading.Event()
    clients = [KeepAliveClient(target, stop) for _ in range(8)]
    for client in clients:
        client.start()
    time.sleep(1.5)
    served_by_old = sum(len(client.statuses) for client in clients)
    assert served_by_old > 0
    # Kubernetes' order: the endpoint leaves the Service (new connections go elsewhere), then the
    # pod gets SIGTERM while clients still use their open connections to it.
    target[0] = new.port
    assert old.stop() == 0
    time.sleep(1.0)
    stop.set()
    for client in clients:
        client.join(timeout=60)
    statuses = [status for client in clients for status in client.statuses]
    errors = [error for client in clients for error in client.errors]
    assert errors == []
    assert set(statuses) == {200}
    assert len(statuses) > served_by_old  # the load went on through the restart
