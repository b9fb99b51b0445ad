"""The server process: `python -m liminal_pulumi.serving [options]`.

The one entry point of the model server, in its container (the image's CMD, the Kubernetes
Deployment's command from `images.server_command`) and on a laptop (`liminal serve` runs the same
command). It reads the endpoints file, then runs gunicorn with the app of `server.create_app`.
Options: `server_settings`.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from liminal_pulumi.serving.settings import parse_arguments

# prometheus_client's variable; spelled here because that library must not be imported yet.
_METRICS_FOLDER_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    _use_fresh_metrics_folder()
    # Each worker is one process per core's share: a BLAS thread pool per worker (numpy,
    # scikit-learn) only oversubscribes the cores. A value the operator set is kept.
    for variable in _BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    # Imported after the metrics folder is set: prometheus_client picks its storage on import.
    from liminal_pulumi.serving.app import create_app
    from liminal_pulumi.serving.endpoints import load_endpoints
    from liminal_pulumi.serving.gunicorn_config import GunicornServer, gunicorn_options, port_in_use
    from liminal_pulumi.serving.prediction_log import settings_from_environment

    try:
        endpoints = load_endpoints(settings.endpoints_file)
    except (OSError, ValueError) as error:
        sys.exit(f"liminal server: cannot read endpoints file {settings.endpoints_file}: {error}")
    app_dir = settings.app_dir.resolve()
    taken = port_in_use(settings.host, settings.port)
    if taken is not None:
        sys.exit(f"liminal server: cannot listen on {settings.host}:{settings.port}: {taken}")

    monitor_settings = settings_from_environment()

    def app_factory() -> object:
        # In each worker (after the fork): the prediction log's writer thread is the worker's.
        monitor = None
        if monitor_settings is not None:
            monitor = functools.partial(_monitor, monitor_settings)
        return create_app(
            endpoints, app_dir=app_dir, max_body_bytes=settings.max_body_bytes, monitor=monitor
        )

    GunicornServer(app_factory, gunicorn_options(settings)).run()


def _monitor(settings: Any, metrics: Any) -> Any:
    from liminal_pulumi.serving.prediction_log import PredictionMonitor

    return PredictionMonitor(settings, metrics.registry)


def _use_fresh_metrics_folder() -> None:
    """Workers share counters through files in one folder, made new for this server's life."""
    if os.environ.get(_METRICS_FOLDER_ENV):
        return
    folder = tempfile.mkdtemp(prefix="liminal-metrics-")
    os.environ[_METRICS_FOLDER_ENV] = folder
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # forked workers inherit this hook: only the master cleans up
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


if __name__ == "__main__":
    main()
