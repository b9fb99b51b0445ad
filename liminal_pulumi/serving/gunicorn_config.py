"""How gunicorn runs the model server: settings from the service, and gunicorn as a library.

Workers are `LiminalThreadWorker` (`serving.worker`): gunicorn's `gthread` whose main loop reads
each request before a thread sees it, so slow or idle clients never hold a thread. Connections
are kept alive (load balancers and clients reuse them); `workers` processes share the cores, and
`threads` per worker (default 1: model code is CPU-bound and threads would queue on the GIL) serve
endpoints that wait on I/O. On SIGTERM (Kubernetes stopping a pod, Ctrl-C of `liminal serve`)
a worker takes the connections already queued, stops listening, answers every request it has read
or that arrives on an open connection within 2 s (with `Connection: close`), then exits; requests
still running after `graceful_timeout` seconds are cut.
"""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from liminal_pulumi import defaults
from liminal_pulumi.serving.settings import ServerSettings
from liminal_pulumi.serving.worker import LiminalThreadWorker

# Heartbeat files on a tmpfs: a worker on a slow or overlay disk is not killed as unresponsive.
_SHARED_MEMORY = "/dev/shm"
KEEPALIVE_SECONDS = defaults.SERVICE_KEEPALIVE_SECONDS


def gunicorn_options(settings: ServerSettings) -> dict[str, Any]:
    """Gunicorn's settings (names as in gunicorn's documentation) for these server settings."""
    options: dict[str, Any] = {
        "bind": [f"{_bind_host(settings.host)}:{settings.port}"],
        "workers": settings.workers,
        # One more than the service's endpoint calls at once (the app keeps to `threads`): the
        # spare answers /healthcheck and /ready while the endpoints are busy or hung.
        "threads": settings.threads + 1,
        "worker_class": worker_class(settings),
        "worker_connections": defaults.SERVICE_WORKER_CONNECTIONS,
        # The master kills a worker whose main loop is silent this long. The loop never runs user
        # code (requests run in threads, each bounded by timeout_seconds in the app), so this only
        # catches a wedged process: twice the request timeout leaves the app's 504 to answer first.
        "timeout": 2 * settings.timeout_seconds + defaults.SERVICE_HEADER_TIMEOUT_SECONDS,
        "graceful_timeout": settings.graceful_timeout_seconds,
        "keepalive": KEEPALIVE_SECONDS,
        # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads connections
        # over them. With one shared socket, the worker that wakes first accepts a burst of
        # keep-alive connections (measured: all 16 of wrk's, often) and serves them on one core
        # while the other workers idle.
        "reuse_port": True,
        "proc_name": "liminal-server",
        "accesslog": None,  # per-request logs cost throughput; /metrics counts requests
        "errorlog": "-",
        "loglevel": "info",
        "child_exit": _child_exit,
        "post_worker_init": _freeze_loaded_objects,
        # Gunicorn >= 25.1 opens a control socket at one path per user ($HOME/.gunicorn): two
        # servers on one machine would share it, and a read-only home would stop the server.
        "control_socket_disable": True,
    }
    if os.path.isdir(_SHARED_MEMORY):
        options["worker_tmp_dir"] = _SHARED_MEMORY
    return options


def worker_class(settings: ServerSettings) -> type[LiminalThreadWorker]:
    """The worker class with this server's limits (gunicorn has no setting for them)."""
    return type(
        "LiminalWorker",
        (LiminalThreadWorker,),
        {
            "header_timeout": float(settings.header_timeout_seconds),
            "max_head_bytes": defaults.SERVICE_MAX_HEAD_BYTES,
            "max_body_bytes": settings.max_body_bytes,
        },
    )


def port_in_use(host: str, port: int) -> OSError | None:
    """Why `host:port` cannot be listened on, or None when it is free.

    Workers bind with SO_REUSEPORT, which would let a second server share a port with a running
    one (and split its traffic) without an error: a plain bind first tells them apart.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
            probe.bind(address)
    except OSError as error:
        return error
    return None


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _freeze_loaded_objects(_worker: Any) -> None:
    """Keep the app and its models (often 10^5 objects) out of every later garbage collection.

    A full collection walks every tracked object; with a scikit-learn model loaded that is a
    pause of tens of milliseconds in the middle of some request, which is the tail latency.
    """
    gc.collect()
    gc.freeze()


def _child_exit(_server: Any, worker: Any) -> None:
    from liminal_pulumi.serving.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn running the WSGI app that `app_factory` builds, once in every worker."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app_factory()
