"""Prediction logging and per-model-version metrics of a monitored service.

A service with `monitoring` in liminal.yml gets, in every server worker, a `PredictionMonitor`
that wraps the monitored endpoint functions (`instrument`). Per call it

- counts the prediction and observes its latency per endpoint, model version and status
  (`liminal_predictions_total`, `liminal_prediction_duration_seconds`; the version is the
  `model_version_key` of the endpoint's JSON response, `unknown` without one);
- for a sampled call (`sample_rate`), puts the raw pieces (body, result, status, latency, time)
  on a bounded queue and returns. Nothing else happens on the request's thread: no
  serialization, no I/O. When the queue is full the line is dropped and counted
  (`liminal_prediction_log_lines_total{result="dropped"}`).

A daemon thread per worker (`_Writer`) turns queued calls into JSON lines and appends them, a
batch per write, to `<path>/predictions/<host>-<pid>.jsonl`: one file per process (several
workers, and pods on a shared EFS volume, never write to one file, so every line is whole),
rotated at `max_bytes` with `backups` older files (`.1`, `.2`...), as logging's
RotatingFileHandler does; it is not used because it flushes per record and batching is what
keeps logging within a few percent of the server's throughput. A failing disk is counted
(`result="failed"`) and logged at most once a minute; the request never sees it. Files of
processes gone for `PREDICTION_LOG_RETENTION_DAYS` are removed when a writer starts.

A line: {"time": ISO-8601 UTC, "endpoint", "status", "latency_ms", "model_version",
"features": the request body (parsed JSON, else text), "response": what the function returned}
(`features`/`response` only when listed in `fields`).

The configuration reaches the server as JSON in the environment variable `LIMINAL_MONITORING`
(`monitoring_environment` writes it from the model, for `liminal serve` and the Deployment).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Monitoring

log = logging.getLogger("liminal.monitoring")

MONITORING_ENV = "LIMINAL_MONITORING"


@dataclasses.dataclass(frozen=True)
class MonitorSettings:
    """What a server worker needs of the service's `monitoring` section (JSON-serializable)."""

    service: str
    predictions_dir: str  # as the server sees it
    log_enabled: bool = True
    sample_rate: float = defaults.PREDICTION_LOG_SAMPLE_RATE
    fields: tuple[str, ...] = defaults.PREDICTION_LOG_FIELDS
    max_bytes: int = defaults.PREDICTION_LOG_MAX_BYTES
    backups: int = defaults.PREDICTION_LOG_BACKUPS
    model_version_key: str = defaults.MODEL_VERSION_KEY
    # Empty: calls with a request body to any endpoint whose function takes it; else every call
    # of these endpoints.
    endpoints: tuple[str, ...] = ()

    @classmethod
    def from_monitoring(cls, service: str, monitoring: Monitoring) -> MonitorSettings:
        log_section = monitoring.prediction_log
        return cls(
            service=service,
            predictions_dir=f"{monitoring.path}/{defaults.PREDICTIONS_DIR}",
            log_enabled=log_section.enabled,
            sample_rate=log_section.sample_rate,
            fields=tuple(log_section.fields),
            max_bytes=log_section.max_bytes,
            backups=log_section.backups,
            model_version_key=monitoring.model_version_key,
            endpoints=tuple(monitoring.endpoints),
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MonitorSettings:
        data = json.loads(text)
        for key in ("fields", "endpoints"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


def monitoring_environment(service: str, monitoring: Monitoring | None) -> dict[str, str]:
    """The environment that turns monitoring on in the server ({} for an unmonitored service)."""
    if monitoring is None:
        return {}
    return {MONITORING_ENV: MonitorSettings.from_monitoring(service, monitoring).to_json()}


def settings_from_environment(environ: Mapping[str, str] = os.environ) -> MonitorSettings | None:
    """The settings `monitoring_environment` wrote; None when absent. A malformed value is
    logged and ignored: monitoring must never keep a model from being served."""
    text = environ.get(MONITORING_ENV)
    if not text:
        return None
    try:
        return MonitorSettings.from_json(text)
    except (ValueError, TypeError) as error:
        log.error(
            "%s is not valid monitoring settings (%s); monitoring is off", MONITORING_ENV, error
        )
        return None


# --- metrics ---------------------------------------------------------------------------------


class PredictionMetrics:
    """Per-model-version counts and latency, in the server's registry (multiprocess-aware)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Histogram

        from liminal_pulumi.serving.metrics import LATENCY_BUCKETS

        self.predictions = Counter(
            "liminal_predictions_total",
            "Calls of monitored endpoints, by endpoint, model version and status code.",
            ("endpoint", "model_version", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "liminal_prediction_duration_seconds",
            "Time the endpoint function took, by endpoint and model version.",
            ("endpoint", "model_version"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.log_lines = Counter(
            "liminal_prediction_log_lines_total",
            "Prediction log lines by result: written, dropped (queue full), failed (I/O error).",
            ("result",),
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._versions: set[str] = set()
        self.written = self.log_lines.labels("written")
        self.dropped = self.log_lines.labels("dropped")
        self.failed = self.log_lines.labels("failed")

    def observe(self, endpoint: str, version: str, status: int, seconds: float) -> None:
        key = (endpoint, version, status)
        children = self._children.get(key)
        if children is None:
            if version not in self._versions:
                # A new version per deployment is expected; a new one per request is a bug in
                # the endpoint and must not grow the label set without bound.
                if len(self._versions) >= defaults.MONITORING_MAX_MODEL_VERSIONS:
                    version = defaults.OTHER_MODEL_VERSION
                self._versions.add(version)
                key = (endpoint, version, status)
            children = self._children.get(key) or (
                self.predictions.labels(endpoint, version, str(status)),
                self.latency.labels(endpoint, version),
            )
            self._children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)


# --- the monitor -----------------------------------------------------------------------------


class PredictionMonitor:
    """Wraps monitored endpoint functions; owns the worker's log queue and writer thread."""

    def __init__(
        self,
        settings: MonitorSettings,
        registry: Any,
        *,
        queue_size: int = defaults.PREDICTION_LOG_QUEUE_SIZE,
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = PredictionMetrics(registry)
        self._sample_rate = settings.sample_rate if settings.log_enabled else 0.0
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=queue_size)
        self._writer: _Writer | None = None
        if self._sample_rate > 0:
            folder = Path(base_dir) if base_dir is not None else Path(settings.predictions_dir)
            self._writer = _Writer(folder, settings, self._queue, self.metrics)

    def monitors(self, path: str, takes_body: bool) -> bool:
        if self.settings.endpoints:
            return path in self.settings.endpoints
        return takes_body

    def instrument(self, endpoint: Any) -> Any:
        """`endpoint` (app.LoadedEndpoint) with its function wrapped, if it is monitored."""
        if endpoint.function is None or not self.monitors(endpoint.path, endpoint.takes_body):
            return endpoint
        wrapped = self.wrap(endpoint.path, endpoint.function, endpoint.takes_body)
        return dataclasses.replace(endpoint, function=wrapped, takes_body=True)

    def wrap(
        self, path: str, function: Callable[..., Any], takes_body: bool
    ) -> Callable[[bytes], Any]:
        version_key = self.settings.model_version_key
        observe = self.metrics.observe
        enqueue = self._enqueue
        sample_rate = self._sample_rate
        sample = random.random
        # By default only calls that carry a request body are predictions: a probe or a
        # `GET /version` on the same function is not logged nor counted.
        every_call = bool(self.settings.endpoints)

        def monitored(body: bytes) -> Any:
            if not body and not every_call:
                return function(body) if takes_body else function()
            started = time.perf_counter()
            status = 500
            result: Any = None
            try:
                result = function(body) if takes_body else function()
                status = _status_of(result)
                return result
            except Exception as error:
                status = getattr(error, "status", 500)
                status = status if isinstance(status, int) and 400 <= status <= 599 else 500
                result = {"error": str(error)} if status < 500 else None
                raise
            finally:
                seconds = time.perf_counter() - started
                version = _version_of(result, version_key)
                observe(path, version, status, seconds)
                if sample_rate >= 1.0 or (sample_rate > 0 and sample() < sample_rate):
                    enqueue((time.time(), path, status, seconds, version, body, result))

        monitored.__name__ = getattr(function, "__name__", "endpoint")
        return monitored

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.metrics.dropped.inc()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued line is written (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks


def _status_of(result: Any) -> int:
    if isinstance(result, tuple) and len(result) in (2, 3) and isinstance(result[1], int):
        return result[1]
    status = getattr(result, "status_code", None)  # a Flask Response
    return status if isinstance(status, int) else 200


def _body_of(result: Any) -> Any:
    return result[0] if isinstance(result, tuple) and len(result) in (2, 3) else result


def _version_of(result: Any, key: str) -> str:
    body = _body_of(result)
    if isinstance(body, dict):
        version = body.get(key)
        if version is not None:
            return str(version)[:64]
    elif isinstance(body, (str, bytes)) and body[:1] in ("{", b"{"):
        with contextlib.suppress(ValueError, AttributeError):
            version = json.loads(body).get(key)
            if version is not None:
                return str(version)[:64]
    return defaults.UNKNOWN_MODEL_VERSION


def _as_json_value(value: Any) -> Any:
    """A request body or an endpoint's result as JSON: parsed when it is JSON text."""
    value = _body_of(value)
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return value.decode("latin-1")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") or stripped in ("true", "false", "null"):
            with contextlib.suppress(ValueError):
                return json.loads(stripped)
        return value
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy
        return value.tolist()
    return str(value)


class _Writer:
    """The worker's background writer: queue -> JSON lines -> a size-rotated file."""

    def __init__(
        self,
        folder: Path,
        settings: MonitorSettings,
        lines: queue.Queue[tuple[Any, ...]],
        metrics: PredictionMetrics,
    ) -> None:
        self.folder = folder
        self.settings = settings
        self.queue = lines
        self.metrics = metrics
        self.path = folder / f"{_safe_name(socket.gethostname())}-{os.getpid()}.jsonl"
        self._stream: Any = None
        self._size = 0
        self._last_error_logged = 0.0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            remove_stale_files(self.folder, defaults.PREDICTION_LOG_RETENTION_DAYS)
        while True:
            batch = [self.queue.get()]
            while len(batch) < defaults.PREDICTION_LOG_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception as error:  # the disk, a full volume, a value json cannot hold
                self.metrics.failed.inc(len(batch))
                self._close()
                now = time.monotonic()
                if now - self._last_error_logged > 60:
                    self._last_error_logged = now
                    log.warning("prediction log %s: %s; lines are dropped", self.path, error)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _line(self, item: tuple[Any, ...]) -> str:
        moment, path, status, seconds, version, body, result = item
        record: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="milliseconds"),
            "service": self.settings.service,
            "endpoint": path,
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "model_version": version,
        }
        if "features" in self.settings.fields:
            record["features"] = _as_json_value(body)
        if "response" in self.settings.fields:
            record["response"] = _as_json_value(result)
        return json.dumps(record, default=_plain, separators=(",", ":")) + "\n"

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        lines: list[bytes] = []
        for item in batch:
            try:
                lines.append(self._line(item).encode())
            except (TypeError, ValueError):  # a result json cannot hold
                self.metrics.failed.inc()
        if not lines:
            return
        if self._stream is not None and os.fstat(self._stream.fileno()).st_nlink == 0:
            self._close()  # deleted under us (a clean-up, a user): start a new file
        if self._stream is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
            self._size = self._stream.seek(0, os.SEEK_END)
        # One write per file: the lines that fit under max_bytes, then a rotation. A single
        # line larger than max_bytes gets a file of its own.
        pending = bytearray()
        for line in lines:
            if self._size + len(pending) + len(line) > self.settings.max_bytes and (
                self._size or pending
            ):
                self._flush(pending)
                self._rotate()
            pending += line
        self._flush(pending)
        self.metrics.written.inc(len(lines))

    def _flush(self, pending: bytearray) -> None:
        if pending:
            self._stream.write(pending)
            self._size += len(pending)
            pending.clear()

    def _rotate(self) -> None:
        self._close()
        backups = self.settings.backups
        if backups > 0:
            for index in range(backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._stream = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
        self._size = 0

    def _close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
        self._stream = None


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "host"


def prediction_files(folder: Path) -> list[Path]:
    """Every prediction log file in `folder` (current and rotated), oldest data first."""
    try:
        files = [p for p in folder.iterdir() if ".jsonl" in p.name and p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime)


def remove_stale_files(folder: Path, days: float) -> None:
    """Drop log files no process wrote to for `days` (workers restarted, pods rescheduled)."""
    cutoff = time.time() - days * 86400
    for path in prediction_files(folder):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def read_predictions(folder: Path) -> Iterable[dict[str, Any]]:
    """Every whole record in the logs of `folder`; a line cut by a crash is skipped."""
    for path in prediction_files(folder):
        try:
            with path.open("rb") as stream:
                for raw in stream:
                    if not raw.endswith(b"\n"):
                        continue
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        yield record
        except OSError:
            continue
