"""Prometheus metrics of the model server: requests, errors and latency per endpoint.

Gunicorn runs several worker processes, and a scrape reaches only one of them, so the counters
live in prometheus_client's multiprocess files (a folder named by `PROMETHEUS_MULTIPROC_DIR`,
set by `server_main` before prometheus_client is first imported) and every scrape merges the files
of all workers. Without that variable (a single process: tests, a debugger) the process's own
registry answers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Paths that match no endpoint share one label, so that scanners cannot grow the label set.
UNMATCHED_ENDPOINT = "<unmatched>"
# Model serving answers in milliseconds; the buckets resolve that range and flag the slow tail.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ServerMetrics:
    """The metrics one server app records; one instance per app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry per app keeps two apps in one process (tests) from colliding.
        self._registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "liminal_http_requests_total",
            "HTTP requests answered, by endpoint, method and status code.",
            ("endpoint", "method", "status"),
            registry=self._registry,
        )
        self.errors = Counter(
            "liminal_http_request_errors_total",
            "HTTP requests answered with a 4xx or 5xx status, by endpoint and status code.",
            ("endpoint", "status"),
            registry=self._registry,
        )
        self.latency = Histogram(
            "liminal_http_request_duration_seconds",
            "Time from request to response, by endpoint.",
            ("endpoint",),
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )

        # The labelled children by (endpoint, method, status): `labels()` costs more than an
        # update, and the set is bounded by endpoints x methods x statuses.
        self._children: dict[tuple[str, str, int], tuple[Any, Any | None, Any]] = {}

    @property
    def registry(self) -> CollectorRegistry:
        """The registry single-process expositions read (more metrics may register on it)."""
        return self._registry

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            status_label = str(status)
            children = (
                self.requests.labels(endpoint, method, status_label),
                self.errors.labels(endpoint, status_label) if status >= 400 else None,
                self.latency.labels(endpoint),
            )
            self._children[key] = children
        requests, errors, latency = children
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text of every worker (or of this process alone) and its content type."""
        if os.environ.get(MULTIPROC_DIR_ENV):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self._registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn's child_exit hook); its counters stay counted."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        multiprocess.mark_process_dead(pid)
