"""Helpers of the serving tests: real servers (`python -m liminal_pulumi.serving` under
gunicorn) on a free loopback port, a small HTTP client, and a model store with real models."""

from __future__ import annotations

import http.client
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from liminal_pulumi.dsl.model import Endpoint
from liminal_pulumi.serving.endpoints import dump_endpoints

REPO_ROOT = Path(__file__).resolve().parents[2]
IRIS = REPO_ROOT / "examples" / "iris"
STARTUP_SECONDS = 60


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    chunked: bool = False,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if chunked:
            connection.request(
                method,
                path,
                body=iter([body or b""]),
                headers=dict(headers or {}),
                encode_chunked=True,
            )
        else:
            connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def post_json(port: int, path: str, document: object) -> Reply:
    return request(
        port, "POST", path, json.dumps(document).encode(), {"Content-Type": "application/json"}
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


def wait_until_up(server: Server, path: str = "/healthcheck") -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        try:
            request(server.port, "GET", path)
            return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet
    raise AssertionError(f"server not up after {STARTUP_SECONDS}s:\n{server.log()}")


Launch = Callable[..., Server]


def server_command(endpoints_file: Path, app_dir: Path | None = None) -> list[str]:
    """The server process's command line, as the image and `liminal serve` run it."""
    argv = [
        sys.executable,
        "-m",
        "liminal_pulumi.serving",
        "--endpoints-file",
        str(endpoints_file),
    ]
    return argv + (["--app-dir", str(app_dir)] if app_dir is not None else [])


def run_server(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A server process expected to stop at start-up: its exit status and output."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def launcher(tmp: Path) -> Iterator[Launch]:
    servers: list[Server] = []

    def launch(
        app_dir: Path,
        endpoints: Sequence[Endpoint],
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        command: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> Server:
        index = len(servers)
        endpoints_file = tmp / f"endpoints-{index}.json"
        endpoints_file.write_text(dump_endpoints(endpoints))
        port = free_port()
        log_file = tmp / f"server-{index}.log"
        argv = list(command) if command is not None else server_command(endpoints_file, app_dir)
        argv += ["--host", "127.0.0.1", "--port", str(port), *extra_args]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd or tmp,
            )
        server = Server(process, port, log_file)
        servers.append(server)
        wait_until_up(server)
        return server

    yield launch
    for server in servers:
        server.stop()


# --- the model store ---------------------------------------------------------------------------


def train_model(positive_class: int = 2) -> object:
    """A tiny real model: logistic regression of iris petal width, one class against the rest."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    return LogisticRegression().fit(features[:, 3:4], (labels == positive_class).astype(int))


def publish_model(store: Path, version: str, model: object) -> Path:
    """A production version as the pipeline leaves it, moved into place in one rename."""
    production = store / "production"
    production.mkdir(parents=True, exist_ok=True)
    staging = store / f".staging-{version}"
    staging.mkdir()
    (staging / "model.pkl").write_bytes(pickle.dumps(model))
    (staging / "metadata.json").write_text(
        json.dumps({"version": version, "accuracy": 0.95, "created_at": "2025-01-01T00:00:00Z"})
    )
    staging.rename(production / version)
    return production / version


def iris_endpoints() -> tuple[Endpoint, ...]:
    return (
        Endpoint(endpoint="/predict", module="serving", function="predict"),
        Endpoint(endpoint="/healthcheck", module="serving", function="healthcheck"),
        Endpoint(endpoint="/version", module="serving", function="version"),
    )
