"""Prediction logging and per-model-version metrics: in-process units and real gunicorn workers."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from serving_helpers import IRIS, Launch, iris_endpoints, post_json, publish_model, request
from serving_helpers import train_model as train_iris

from liminal_pulumi.dsl.model import Endpoint, Monitoring
from liminal_pulumi.serving.app import EndpointError, create_app
from liminal_pulumi.serving.metrics import ServerMetrics
from liminal_pulumi.serving.prediction_log import (
    MONITORING_ENV,
    MonitorSettings,
    PredictionMonitor,
    monitoring_environment,
    read_predictions,
)


def settings(folder: Path, **changes: object) -> MonitorSettings:
    base = MonitorSettings(service="srv", predictions_dir=str(folder))
    return MonitorSettings(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def lines_of(folder: Path) -> list[bytes]:
    return [line for p in sorted(folder.iterdir()) for line in p.read_bytes().splitlines(True)]


def test_a_monitored_call_is_logged_and_counted_per_model_version(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    monitor = PredictionMonitor(settings(tmp_path), registry)
    wrapped = monitor.wrap("/predict", lambda body: {"result": 1, "version": "v7"}, True)
    assert wrapped(b'{"x": "1.5"}') == {"result": 1, "version": "v7"}
    assert monitor.flush()
    (record,) = list(read_predictions(tmp_path))
    assert record["endpoint"] == "/predict" and record["status"] == 200
    assert record["model_version"] == "v7" and record["service"] == "srv"
    assert record["features"] == {"x": "1.5"} and record["response"]["result"] == 1
    assert record["latency_ms"] >= 0 and record["time"].endswith("+00:00")
    text = generate_latest(registry).decode()
    assert (
        'liminal_predictions_total{endpoint="/predict",model_version="v7",status="200"} 1.0' in text
    )
    assert (
        'liminal_prediction_duration_seconds_count{endpoint="/predict",model_version="v7"} 1.0'
        in (text)
    )


def test_failures_are_counted_with_their_status_and_reraised(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    monitor = PredictionMonitor(settings(tmp_path, fields=("features",)), registry)

    def refuse(body: bytes) -> None:
        raise EndpointError(422, "no")

    wrapped = monitor.wrap("/predict", refuse, True)
    try:
        wrapped(b"{}")
    except EndpointError as error:
        assert error.status == 422
    else:
        raise AssertionError("the endpoint's error must reach the app")
    assert monitor.flush()
    (record,) = list(read_predictions(tmp_path))
    assert record["status"] == 422 and "response" not in record
    assert 'model_version="unknown",status="422"} 1.0' in generate_latest(registry).decode()


def test_sampling_zero_logs_nothing_but_still_counts(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    monitor = PredictionMonitor(settings(tmp_path, sample_rate=0.0), registry)
    wrapped = monitor.wrap("/predict", lambda body: {"version": "a"}, True)
    for _ in range(20):
        wrapped(b"{}")
    assert not any(tmp_path.iterdir())
    assert 'model_version="a",status="200"} 20.0' in generate_latest(registry).decode()


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be: every write fails")
    monitor = PredictionMonitor(settings(blocker), registry, queue_size=1)
    wrapped = monitor.wrap("/predict", lambda body: {"version": "a"}, True)
    started = time.perf_counter()
    for _ in range(2000):
        assert wrapped(b"{}") == {"version": "a"}
    assert time.perf_counter() - started < 5  # never waits on the writer
    assert monitor.flush()
    text = generate_latest(registry).decode()
    dropped = float(
        text.split('liminal_prediction_log_lines_total{result="dropped"} ')[1].split()[0]
    )
    failed = float(text.split('liminal_prediction_log_lines_total{result="failed"} ')[1].split()[0])
    assert dropped > 0 and failed > 0 and dropped + failed == 2000


def test_files_rotate_at_the_size_cap(tmp_path: Path) -> None:
    monitor = PredictionMonitor(settings(tmp_path, max_bytes=4096, backups=2), CollectorRegistry())
    wrapped = monitor.wrap("/predict", lambda body: {"version": "a", "pad": "x" * 200}, True)
    for index in range(200):
        wrapped(json.dumps({"i": index}).encode())
        if index % 20 == 0:
            assert monitor.flush()
    assert monitor.flush()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3  # the current file and two backups, however many were written
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())
    for line in lines_of(tmp_path):
        json.loads(line)


def test_the_app_wraps_body_endpoints_only(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "mod_monitored.py").write_text(
        "def predict(body):\n    return {'version': 'v1', 'echo': body.decode()}\n"
        "def ping():\n    return 'pong'\n"
    )
    logs = tmp_path / "logs"
    metrics = ServerMetrics()
    app = create_app(
        (
            Endpoint(endpoint="/predict", module="mod_monitored", function="predict"),
            Endpoint(endpoint="/ping", module="mod_monitored", function="ping"),
        ),
        app_dir=app_dir,
        metrics=metrics,
        monitor=lambda m: PredictionMonitor(settings(logs), m.registry),
    )
    client = app.test_client()
    assert client.post("/predict", data=b'{"a": 1}').json == {"version": "v1", "echo": '{"a": 1}'}
    assert client.get("/ping").data == b"pong"
    exposition = client.get("/metrics").data.decode()
    assert 'liminal_predictions_total{endpoint="/predict",model_version="v1",status="200"} 1.0' in (
        exposition
    )
    assert 'endpoint="/ping",model_version' not in exposition
    deadline = time.monotonic() + 5
    while not list(read_predictions(logs)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r["endpoint"] for r in read_predictions(logs)] == ["/predict"]


def test_settings_round_trip_through_the_environment() -> None:
    monitoring = Monitoring(path="/mnt/store/monitoring/srv")
    environment = monitoring_environment("srv", monitoring)
    parsed = MonitorSettings.from_json(environment[MONITORING_ENV])
    assert parsed.predictions_dir == "/mnt/store/monitoring/srv/predictions"
    assert parsed == MonitorSettings.from_monitoring("srv", monitoring)
    assert monitoring_environment("srv", None) == {}


def test_workers_under_load_write_only_complete_json_lines(launch: Launch, tmp_path: Path) -> None:
    """Two gunicorn workers, 16 concurrent clients, small files that rotate: every line whole."""
    store = tmp_path / "store"
    publish_model(store, "20250101T000000Z", train_iris())
    logs = tmp_path / "logs"
    monitor = settings(logs, max_bytes=64 * 1024, backups=50)
    server = launch(
        IRIS,
        iris_endpoints(),
        env={"MOUNT_PATH": str(store), MONITORING_ENV: monitor.to_json()},
        extra_args=["--workers", "2"],
    )
    total = 4000
    errors: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for index in range(total // 16):
            reply = post_json(server.port, "/predict", {"petal_width": f"{(index % 25) / 10}"})
            if reply.status != 200:
                with lock:
                    errors.append(reply.status)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))
    assert errors == []
    deadline = time.monotonic() + 20
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        records = list(read_predictions(logs))
        if len(records) >= total:
            break
        time.sleep(0.1)
    lines = lines_of(logs)
    assert len(lines) == total == len(records)
    for line in lines:
        assert line.endswith(b"\n")
        record = json.loads(line)
        assert record["model_version"] == "20250101T000000Z"
        assert set(record["features"]) == {"petal_width"}
    writers = {p.name.split(".jsonl")[0] for p in logs.iterdir()}
    assert len(writers) == 2  # one file (and its backups) per worker process
    exposition = request(server.port, "GET", "/metrics").body.decode()
    assert (
        'liminal_predictions_total{endpoint="/predict",model_version="20250101T000000Z",'
        f'status="200"}} {float(total)}' in exposition
    )
