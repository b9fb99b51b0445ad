"""The server process's settings and their command line, in both directions.

`images.server_command` (the container's command, also what the Kubernetes Deployment runs) and
`liminal serve` write these options; `server_main` reads them. Importing this module is cheap (no
Flask, gunicorn or prometheus_client), so the image planner and the AWS components can use it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Service

ENDPOINTS_FILE_NAME = "liminal_endpoints.json"
# The container's port when no --port is given (the image's HEALTHCHECK reads it too).
PORT_ENV = "LIMINAL_SERVER_PORT"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = defaults.SERVICE_PORT
    workers: int = defaults.SERVICE_WORKERS
    threads: int = defaults.SERVICE_THREADS
    timeout_seconds: int = defaults.SERVICE_TIMEOUT_SECONDS
    graceful_timeout_seconds: int = defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS
    max_body_bytes: int = defaults.SERVICE_MAX_BODY_BYTES
    header_timeout_seconds: int = defaults.SERVICE_HEADER_TIMEOUT_SECONDS
    endpoints_file: Path = Path(ENDPOINTS_FILE_NAME)
    app_dir: Path = Path(".")

    @classmethod
    def from_service(
        cls,
        service: Service,
        *,
        host: str = "0.0.0.0",
        port: int | None = None,
        endpoints_file: Path = Path(ENDPOINTS_FILE_NAME),
        app_dir: Path = Path("."),
    ) -> ServerSettings:
        return cls(
            host=host,
            port=service.port if port is None else port,
            workers=service.workers,
            threads=service.threads,
            timeout_seconds=service.timeout_seconds,
            max_body_bytes=service.max_body_bytes,
            endpoints_file=endpoints_file,
            app_dir=app_dir,
        )

    def to_arguments(self) -> list[str]:
        """The options that make `parse_arguments` return these settings."""
        return [
            "--endpoints-file",
            str(self.endpoints_file),
            "--app-dir",
            str(self.app_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--timeout",
            str(self.timeout_seconds),
            "--graceful-timeout",
            str(self.graceful_timeout_seconds),
            "--max-body-bytes",
            str(self.max_body_bytes),
            "--header-timeout",
            str(self.header_timeout_seconds),
        ]


def parse_arguments(argv: Sequence[str] | None = None) -> ServerSettings:
    args = _parser().parse_args(argv)
    return ServerSettings(
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        timeout_seconds=args.timeout,
        graceful_timeout_seconds=args.graceful_timeout,
        max_body_bytes=args.max_body_bytes,
        header_timeout_seconds=args.header_timeout,
        endpoints_file=args.endpoints_file,
        app_dir=args.app_dir,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m liminal_pulumi.serving",
        description="Serve a liminal python_server image's endpoints under gunicorn.",
    )
    parser.add_argument(
        "--endpoints-file",
        type=Path,
        default=Path(ENDPOINTS_FILE_NAME),
        help="the image's endpoints (JSON), written by `liminal build` or `liminal serve`",
    )
    parser.add_argument(
        "--app-dir", type=Path, default=Path("."), help="the folder of the endpoint modules"
    )
    parser.add_argument("--host", default="0.0.0.0")
    default_port = os.environ.get(PORT_ENV, str(defaults.SERVICE_PORT))
    parser.add_argument("--port", type=_port, default=default_port)
    parser.add_argument("--workers", type=_positive, default=defaults.SERVICE_WORKERS)
    parser.add_argument("--threads", type=_positive, default=defaults.SERVICE_THREADS)
    parser.add_argument("--timeout", type=_positive, default=defaults.SERVICE_TIMEOUT_SECONDS)
    parser.add_argument(
        "--graceful-timeout", type=_positive, default=defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS
    )
    parser.add_argument("--max-body-bytes", type=_positive, default=defaults.SERVICE_MAX_BODY_BYTES)
    parser.add_argument(
        "--header-timeout",
        type=_positive,
        default=defaults.SERVICE_HEADER_TIMEOUT_SECONDS,
        help="seconds a client has to send a request (head and body) once it starts; else 408",
    )
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive(str(text))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value
