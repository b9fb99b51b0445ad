"""The server under real gunicorn: valid requests, every class of bad input, concurrency, metrics,
survival after bad requests, and graceful shutdown."""

from __future__ import annotations

import re
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serving_helpers import Launch, Server, post_json, request

from liminal_pulumi.dsl.model import Endpoint

MAX_BODY = 4096

USER_MODULE = """
import json, time, os
from pathlib import Path
from liminal_pulumi.serving.app import EndpointError


def echo(body):
    return {"received": body.decode("latin-1"), "length": len(body)}


def raw(body):
    return body


def json_text(body):
    return json.dumps({"ok": True})


def boom(body):
    raise RuntimeError("internal secret detail 42")


def teapot(body):
    return {"short": "and stout"}, 418


def denied(body):
    raise EndpointError(403, "you may not")


def no_argument():
    return "no argument needed"


def forgot_return(body):
    pass


def numpy_probability(body):
    import numpy
    return numpy.array([[0.25, 0.75]])[0][1]


def numpy_dict(body):
    import numpy
    return {"probabilities": numpy.array([0.25, 0.75]), "count": numpy.int64(2)}


def generator(body):
    yield "not a response"


def not_a_number(body):
    return {"probability": float("nan")}


def slow(body):
    Path(os.environ["SLOW_MARKER"]).write_text("started")
    time.sleep(1.5)
    return "finished"
"""

FUNCTIONS = [
    "echo",
    "raw",
    "json_text",
    "boom",
    "teapot",
    "denied",
    "no_argument",
    "forgot_return",
    "slow",
    "numpy_probability",
    "numpy_dict",
    "generator",
    "not_a_number",
]


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("user_app")
    (folder / "user_endpoints.py").write_text(textwrap.dedent(USER_MODULE))
    return folder


def endpoints() -> list[Endpoint]:
    return [
        Endpoint(endpoint=f"/{name}", module="user_endpoints", function=name) for name in FUNCTIONS
    ]


@pytest.fixture(scope="module")
def server(launch_module: Launch, app_dir: Path) -> Server:
    return launch_module(
        app_dir,
        endpoints(),
        env={"SLOW_MARKER": str(app_dir / "slow.marker")},
        extra_args=["--max-body-bytes", str(MAX_BODY), "--workers", "2", "--threads", "4"],
    )


def assert_serving(server: Server) -> None:
    reply = post_json(server.port, "/echo", {"still": "alive"})
    assert reply.status == 200
    assert reply.json() == {"received": '{"still": "alive"}', "length": 18}


# --- valid requests ----------------------------------------------------------------------------


def test_function_receives_the_raw_body_and_a_dict_becomes_json(server: Server) -> None:
    body = b'{"petal_width": "2.1"}'
    reply = request(server.port, "POST", "/echo", body, {"Content-Type": "application/json"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"received": body.decode(), "length": len(body)}


def test_curl_dash_d_form_content_type_still_reaches_the_function_raw(server: Server) -> None:
    body = b'{"petal_width": "2.1"}'
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = request(server.port, "POST", "/echo", body, headers)
    assert reply.status == 200
    assert reply.json() == {"received": body.decode(), "length": len(body)}


def test_get_without_body_passes_empty_bytes(server: Server) -> None:
    reply = request(server.port, "GET", "/echo")
    assert (reply.status, reply.json()) == (200, {"received": "", "length": 0})


def test_text_and_json_strings_get_their_content_types(server: Server) -> None:
    text = request(server.port, "POST", "/raw", b"plain words", {"Content-Type": "text/plain"})
    assert (text.status, text.body) == (200, b"plain words")
    assert text.headers["content-type"].startswith("text/plain")
    as_json = request(server.port, "GET", "/json_text")
    assert (as_json.status, as_json.json()) == (200, {"ok": True})
    assert as_json.headers["content-type"] == "application/json"


def test_status_conventions_tuple_and_endpoint_error(server: Server) -> None:
    teapot = request(server.port, "GET", "/teapot")
    assert (teapot.status, teapot.json()) == (418, {"short": "and stout"})
    denied = request(server.port, "GET", "/denied")
    assert (denied.status, denied.json()) == (403, {"error": "you may not", "status": 403})


def test_numbers_and_numpy_values_become_json(server: Server) -> None:
    number = request(server.port, "GET", "/numpy_probability")
    assert (number.status, number.json()) == (200, 0.75)
    document = request(server.port, "GET", "/numpy_dict")
    assert (document.status, document.json()) == (
        200,
        {"probabilities": [0.25, 0.75], "count": 2},
    )


def test_function_without_argument_is_called_without_one(server: Server) -> None:
    reply = request(server.port, "GET", "/no_argument")
    assert (reply.status, reply.body) == (200, b"no argument needed")


def test_builtin_liveness_and_readiness(server: Server) -> None:
    live = request(server.port, "GET", "/healthcheck")
    assert (live.status, live.json()) == (200, {"status": "ok"})
    ready = request(server.port, "GET", "/ready")
    assert (ready.status, ready.json()) == (200, {"ready": True})


# --- bad input: each answered with JSON, and the server keeps serving ---------------------------


BAD_REQUESTS = {
    "invalid_json": (
        "POST",
        "/echo",
        b'{"petal_width": ',
        {"Content-Type": "application/json"},
        400,
    ),
    "empty_json_body": ("POST", "/echo", b"", {"Content-Type": "application/json"}, 400),
    "invalid_utf8_json": ("POST", "/echo", b"\xff\xfe{", {"Content-Type": "application/json"}, 400),
    "huge_body": ("POST", "/echo", b"x" * (MAX_BODY + 1), {"Content-Type": "text/plain"}, 413),
    "huge_json_body": (
        "POST",
        "/echo",
        b'{"a": "' + b"x" * MAX_BODY + b'"}',
        {"Content-Type": "application/json"},
        413,
    ),
    "wrong_method": ("PUT", "/echo", b"{}", {"Content-Type": "application/json"}, 405),
    "delete_method": ("DELETE", "/echo", None, {}, 405),
    "unknown_path": ("POST", "/no_such_endpoint", b"{}", {"Content-Type": "application/json"}, 404),
    "root_path": ("GET", "/", None, {}, 404),
    "function_raises": ("POST", "/boom", b"{}", {"Content-Type": "application/json"}, 500),
    "function_returns_none": ("GET", "/forgot_return", None, {}, 500),
    "function_returns_a_generator": ("GET", "/generator", None, {}, 500),
    "function_returns_nan": ("GET", "/not_a_number", None, {}, 500),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_input_gets_a_json_error_and_the_server_survives(server: Server, case: str) -> None:
    method, path, body, headers, status = BAD_REQUESTS[case]
    reply = request(server.port, method, path, body, headers)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert isinstance(document, dict)
    assert document["status"] == status
    assert document["error"]
    assert_serving(server)


def test_wrong_method_names_the_allowed_ones(server: Server) -> None:
    reply = request(server.port, "PUT", "/echo", b"{}")
    assert reply.status == 405
    assert set(reply.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_huge_chunked_body_without_length_is_refused(server: Server) -> None:
    reply = request(
        server.port,
        "POST",
        "/echo",
        b"y" * (MAX_BODY * 2),
        {"Content-Type": "text/plain"},
        chunked=True,
    )
    assert reply.status == 413
    assert_serving(server)


def test_a_raising_function_answers_an_error_id_and_logs_the_traceback(server: Server) -> None:
    reply = request(server.port, "POST", "/boom", b"{}", {"Content-Type": "application/json"})
    assert reply.status == 500
    document = reply.json()
    assert isinstance(document, dict)
    assert re.fullmatch(r"[0-9a-f]{16}", document["error_id"])
    assert b"secret detail" not in reply.body and b"Traceback" not in reply.body
    log = server.log()
    assert f"error_id={document['error_id']}" in log
    assert "RuntimeError: internal secret detail 42" in log
    assert "Traceback" in log


# --- load ---------------------------------------------------------------------------------------


def test_concurrent_requests_each_get_their_own_answer(server: Server) -> None:
    def call(index: int) -> tuple[int, object]:
        reply = post_json(server.port, "/echo", {"request": index})
        return reply.status, reply.json()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, range(120)))
    for index, (status, document) in enumerate(results):
        expected = f'{{"request": {index}}}'
        assert (status, document) == (200, {"received": expected, "length": len(expected)})
    assert_serving(server)


# --- metrics ------------------------------------------------------------------------------------


def metric(server: Server, name: str, **labels: str) -> float:
    text = request(server.port, "GET", "/metrics").body.decode()
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            total += float(match.group(2))
    return total


def test_metrics_count_requests_errors_and_latency_across_workers(server: Server) -> None:
    ok = {"endpoint": "/echo", "method": "POST", "status": "200"}
    before_ok = metric(server, "liminal_http_requests_total", **ok)
    before_errors = metric(
        server, "liminal_http_request_errors_total", endpoint="/boom", status="500"
    )
    before_unmatched = metric(
        server, "liminal_http_requests_total", endpoint="<unmatched>", method="GET", status="404"
    )
    before_latency = metric(server, "liminal_http_request_duration_seconds_count", endpoint="/echo")
    for index in range(7):
        assert post_json(server.port, "/echo", {"n": index}).status == 200
    for _ in range(3):
        assert request(server.port, "POST", "/boom", b"").status == 500
    assert request(server.port, "GET", "/scanner/probe").status == 404

    assert metric(server, "liminal_http_requests_total", **ok) - before_ok == 7
    assert (
        metric(server, "liminal_http_request_errors_total", endpoint="/boom", status="500")
        - before_errors
        == 3
    )
    assert (
        metric(
            server,
            "liminal_http_requests_total",
            endpoint="<unmatched>",
            method="GET",
            status="404",
        )
        - before_unmatched
        == 1
    )
    assert (
        metric(server, "liminal_http_request_duration_seconds_count", endpoint="/echo")
        - before_latency
        == 7
    )
    exposition = request(server.port, "GET", "/metrics")
    assert exposition.headers["content-type"].startswith("text/plain")
    assert "# TYPE liminal_http_request_duration_seconds histogram" in exposition.body.decode()


# --- shutdown -----------------------------------------------------------------------------------


def test_sigterm_lets_the_request_in_flight_finish(
    launch: Launch, app_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "slow.marker"
    server = launch(app_dir, endpoints(), env={"SLOW_MARKER": str(marker)})
    replies = []
    in_flight = threading.Thread(
        target=lambda: replies.append(request(server.port, "GET", "/slow"))
    )
    in_flight.start()
    deadline = threading.Event()
    for _ in range(600):  # until the function has started (at most 30 s)
        if marker.exists():
            break
        deadline.wait(0.05)
    assert marker.exists(), server.log()
    assert server.stop() == 0
    in_flight.join(timeout=30)
    assert [(r.status, r.body) for r in replies] == [(200, b"finished")]
