"""Gunicorn's settings come from the service, with graceful shutdown and no shared sockets; the
worker's pure helpers (request framing, error pages) on their own."""

from __future__ import annotations

import json

import pytest
from gunicorn.config import Config
from gunicorn.http import errors as http_errors

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Service
from liminal_pulumi.serving.gunicorn_config import gunicorn_options
from liminal_pulumi.serving.settings import ServerSettings, parse_arguments
from liminal_pulumi.serving.worker import (
    LiminalThreadWorker,
    error_status,
    json_error_bytes,
    request_progress,
)


def test_options_follow_the_service() -> None:
    service = Service(service="s", image="i", port=9001, workers=3, threads=2, timeout_seconds=12)
    options = gunicorn_options(ServerSettings.from_service(service, host="127.0.0.1"))
    assert options["bind"] == ["127.0.0.1:9001"]
    assert (options["workers"], options["threads"]) == (3, 2 + 1)  # one spare for the probes
    # The app answers 504 at 12 s; the master's heartbeat timeout only catches a wedged process.
    assert options["timeout"] > 12
    worker = options["worker_class"]
    assert issubclass(worker, LiminalThreadWorker)
    assert worker.max_body_bytes == service.max_body_bytes
    assert worker.header_timeout == defaults.SERVICE_HEADER_TIMEOUT_SECONDS
    assert options["graceful_timeout"] == defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS
    assert options["control_socket_disable"] is True


def test_header_timeout_round_trips_through_the_command_line() -> None:
    settings = ServerSettings(header_timeout_seconds=3, max_body_bytes=77)
    parsed = parse_arguments(settings.to_arguments())
    assert parsed == settings
    worker = gunicorn_options(parsed)["worker_class"]
    assert (worker.header_timeout, worker.max_body_bytes) == (3.0, 77)


def test_ipv6_hosts_are_bracketed_and_every_option_is_a_gunicorn_setting() -> None:
    options = gunicorn_options(ServerSettings(host="::1", port=8080))
    assert options["bind"] == ["[::1]:8080"]
    config = Config()
    for key, value in options.items():
        if key in config.settings:  # as GunicornServer.load_config does
            config.set(key, value)
    assert config.workers == defaults.SERVICE_WORKERS
    assert config.threads == defaults.SERVICE_THREADS + 1
    assert config.worker_class is options["worker_class"]


HEAD = b"POST /predict HTTP/1.1\r\nHost: a\r\n"


@pytest.mark.parametrize(
    ("buffer", "expected"),
    [
        (b"GET /heal", (False, False)),
        (b"GET / HTTP/1.1\r\nHost: a\r\n", (False, False)),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", (True, True)),
        (HEAD + b"Content-Length: 5\r\n\r\nabc", (True, False)),
        (HEAD + b"content-length:5\r\n\r\nabcde", (True, True)),
        # framed otherwise, or over the limit: the thread reads (or refuses) the body
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", (True, True)),
        (HEAD + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", (True, True)),
        (HEAD + b"Content-Length: 101\r\n\r\n", (True, True)),
        # two lengths: gunicorn's parser refuses the request, so it goes now
        (HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", (True, True)),
    ],
)
def test_request_progress(buffer: bytes, expected: tuple[bool, bool]) -> None:
    assert request_progress(buffer, max_body_bytes=100) == expected


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (http_errors.InvalidRequestLine("x"), 400),
        (http_errors.InvalidHeader("CONTENT-LENGTH"), 400),
        (http_errors.InvalidChunkSize(b"zz"), 400),
        (http_errors.LimitRequestLine(9000, 4094), 414),
        (http_errors.LimitRequestHeaders("too many"), 431),
        (http_errors.UnsupportedTransferCoding("gzip"), 501),
        (http_errors.InvalidResponseHeader("x"), 500),
        (RuntimeError("bug"), 500),
    ],
)
def test_error_status(error: Exception, status: int) -> None:
    assert error_status(error) == status


def test_error_pages_are_json_and_close_the_connection() -> None:
    head, _, body = json_error_bytes(408, 'took "too" long').partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 408 Request Timeout"
    assert "Connection: close" in lines and "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {"error": 'took "too" long', "status": 408}
