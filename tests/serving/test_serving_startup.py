"""A user module that fails to load takes down only its own endpoints: the server starts, says
why on /ready (503) and on those endpoints (503), and serves the rest."""

from __future__ import annotations

from pathlib import Path

from serving_helpers import Launch, request, run_server, server_command

from liminal_pulumi.dsl.model import Endpoint
from liminal_pulumi.serving.endpoints import dump_endpoints


def test_broken_modules_fail_only_their_endpoints(tmp_path: Path, launch: Launch) -> None:
    (tmp_path / "good.py").write_text("def hello(body):\n    return 'hello'\n")
    (tmp_path / "broken.py").write_text("import not_installed_anywhere_42\n")
    (tmp_path / "two_args.py").write_text("def predict(a, b):\n    return 'never'\n")
    server = launch(
        tmp_path,
        [
            Endpoint(endpoint="/hello", module="good", function="hello"),
            Endpoint(endpoint="/broken", module="broken", function="predict"),
            Endpoint(endpoint="/missing", module="good", function="no_such_function"),
            Endpoint(endpoint="/two_args", module="two_args", function="predict"),
        ],
    )
    assert request(server.port, "GET", "/hello").body == b"hello"
    ready = request(server.port, "GET", "/ready")
    assert ready.status == 503
    errors = ready.json()["errors"]  # type: ignore[index]
    assert set(errors) == {"/broken", "/missing", "/two_args"}
    assert "ModuleNotFoundError" in errors["/broken"]
    assert "no function no_such_function" in errors["/missing"]
    assert "one argument" in errors["/two_args"]
    for path in ("/broken", "/missing", "/two_args"):
        reply = request(server.port, "POST", path, b"{}")
        assert reply.status == 503
        assert "endpoint unavailable" in reply.json()["error"]  # type: ignore[index]
    assert request(server.port, "GET", "/healthcheck").status == 200  # alive, though not ready
    assert request(server.port, "GET", "/hello").status == 200


def test_unreadable_endpoints_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "endpoints.json"
    bad.write_text('[{"endpoint": "/x"}]')
    result = run_server(server_command(bad))
    assert result.returncode != 0
    assert f"cannot read endpoints file {bad}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_server_on_a_taken_port_refuses_to_start(tmp_path: Path, launch: Launch) -> None:
    """Workers listen with SO_REUSEPORT; a second server must not silently share the port."""
    (tmp_path / "good.py").write_text("def hello(body):\n    return 'first'\n")
    first = launch(tmp_path, [Endpoint(endpoint="/hello", module="good", function="hello")])
    endpoints_file = tmp_path / "second.json"
    endpoints_file.write_text(
        dump_endpoints([Endpoint(endpoint="/x", module="good", function="hello")])
    )
    result = run_server(
        [
            *server_command(endpoints_file, tmp_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(first.port),
        ]
    )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{first.port}" in result.stderr
    assert "Traceback" not in result.stderr
    for _ in range(20):  # every answer still comes from the first server
        assert request(first.port, "GET", "/hello").body == b"first"
