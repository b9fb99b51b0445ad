"""A service's `monitoring` section: defaults, short forms, inheritance and located errors."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from dsl_helpers import MINIMAL, errors_of, find, load, load_file

from liminal_pulumi import defaults
from liminal_pulumi.dsl.schema import liminal_schema

SERVED = (
    MINIMAL
    + """volumes:
  - volume: store
services:
  - service: srv
    image: img
    mounts:
      - volume: store
        path: /mnt/store
"""
)


def monitored(section: str) -> str:
    """SERVED with `section` (indented lines under `monitoring:`) on its service."""
    return SERVED + "    monitoring:\n" + "".join(f"      {line}\n" for line in section.split("\n"))


def test_services_are_unmonitored_by_default(tmp_path: Path) -> None:
    (service,) = load_file(tmp_path, SERVED).services
    assert service.monitoring is None


def test_monitoring_true_turns_logging_on_with_defaults(tmp_path: Path) -> None:
    text = SERVED + "    monitoring: true\n"
    monitoring = load_file(tmp_path, text).services[0].monitoring
    assert monitoring is not None
    assert monitoring.path == "/mnt/store/monitoring/srv"
    assert monitoring.prediction_log.enabled is True
    assert monitoring.prediction_log.sample_rate == defaults.PREDICTION_LOG_SAMPLE_RATE
    assert monitoring.prediction_log.fields == ("features", "response")
    assert monitoring.drift is None and monitoring.alerts is None


def test_full_section_loads(tmp_path: Path) -> None:
    text = monitored(
        "path: /mnt/store/logs/\n"
        "prediction_log: {sample_rate: 0.25, fields: features, max_bytes: 65536, backups: 1}\n"
        "drift:\n"
        "  reference: /mnt/store/reference.csv\n"
        "  schedule: 0 3 * * *\n"
        "  stattest: ks\n"
        "  threshold: 0.01\n"
        "  features: [petal_width]\n"
        "alerts:\n"
        "  error_rate: 0.1\n"
        "  p99_latency_ms: null\n"
        "  notify: {email: ops@example.com, https: [https://hooks.example.com/x]}"
    )
    monitoring = load_file(tmp_path, text).services[0].monitoring
    assert monitoring is not None
    assert monitoring.path == "/mnt/store/logs"
    assert monitoring.prediction_log.fields == ("features",)
    assert monitoring.prediction_log.sample_rate == 0.25
    drift = monitoring.drift
    assert drift is not None
    assert (drift.reference, drift.schedule, drift.stattest) == (
        "/mnt/store/reference.csv",
        "0 3 * * *",
        "ks",
    )
    assert drift.features == ("petal_width",)
    assert drift.drift_share == defaults.DRIFT_SHARE
    alerts = monitoring.alerts
    assert alerts is not None
    assert alerts.error_rate == 0.1 and alerts.p99_latency_ms is None
    assert alerts.drift_share == defaults.ALERT_DRIFT_SHARE
    assert alerts.notify.email == ("ops@example.com",)
    assert alerts.notify.https == ("https://hooks.example.com/x",)


def test_drift_schedule_defaults_to_daily(tmp_path: Path) -> None:
    text = monitored("drift: {reference: /mnt/store/ref.csv}")
    drift = load_file(tmp_path, text).services[0].monitoring.drift  # type: ignore[union-attr]
    assert drift is not None and drift.schedule == "@daily"


def test_service_defaults_turn_monitoring_on_and_a_child_service_off(tmp_path: Path) -> None:
    parent = """
        name: parent
        type: super
        service_defaults:
          monitoring:
            alerts: {error_rate: 0.02}
    """
    child = (
        "super: parent\n"
        + SERVED
        + """  - service: quiet
    image: img
    monitoring: false
    mounts:
      - volume: store
        path: /mnt/store
"""
    )
    project, _ = load(tmp_path, {"parent/liminal.yml": parent, "app/liminal.yml": child})
    (file,) = project.files
    srv, quiet = file.services
    assert srv.monitoring is not None and srv.monitoring.alerts is not None
    assert srv.monitoring.alerts.error_rate == 0.02
    assert quiet.monitoring is None
    assert [s.service for _, s, _ in project.monitored_services()] == ["srv"]


@pytest.mark.parametrize(
    ("section", "line_offset", "path", "words", "suggestion"),
    [
        ("alerst: {}", 0, "alerst", "unknown key `alerst`", "alerts"),
        ("drift: {reference: /mnt/store/r.csv, stattest: kss}", 0, "drift.stattest", "kss", "ks"),
        ("drift: {reference: /elsewhere/r.csv}", 0, "drift.reference", "none of the", None),
        ("drift: {stattest: ks}", 0, "drift", "needs `reference`", None),
        (
            "drift: {reference: /mnt/store/r.csv, schedule: 61 * * * *}",
            0,
            "drift.schedule",
            "cron",
            None,
        ),
        ("path: /tmp/logs", 0, "path", "none of the service's mounts", None),
        (
            "prediction_log: {sample_rate: 2}",
            0,
            "prediction_log.sample_rate",
            "less than or equal to 1",
            None,
        ),
        (
            "prediction_log: {fields: [features, respnse]}",
            0,
            "prediction_log.fields[1]",
            "respnse",
            "response",
        ),
        (
            "prediction_log: false\ndrift: {reference: /mnt/store/r.csv}",
            1,
            "drift",
            "needs `prediction_log` enabled",
            None,
        ),
        (
            "alerts: {notify: {email: [not-an-address]}}",
            0,
            "alerts.notify.email[0]",
            "not an e-mail address",
            None,
        ),
        (
            "alerts: {notify: {https: [http://plain.example.com]}}",
            0,
            "alerts.notify.https[0]",
            "not an https:// URL",
            None,
        ),
        ("alerts: {period_seconds: 90}", 0, "alerts.period_seconds", "multiple of 60", None),
        ("endpoints: [/predikt]", 0, "endpoints[0]", "no endpoint `/predikt`", None),
    ],
)
def test_mistakes_are_located(
    tmp_path: Path,
    section: str,
    line_offset: int,
    path: str,
    words: str,
    suggestion: str | None,
) -> None:
    text = monitored(section)
    # The files are written without their leading newline; the section ends the file.
    first_line = text.lstrip("\n").count("\n") - section.count("\n")
    diagnostic = find(errors_of(tmp_path, {"liminal.yml": text}), words)
    assert diagnostic.file is not None and diagnostic.file.name == "liminal.yml"
    assert diagnostic.line == first_line + line_offset
    assert diagnostic.key_path == f"services[0].monitoring.{path}"
    assert diagnostic.suggestion == suggestion


def test_monitoring_without_any_mount_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + "services:\n  - service: srv\n    image: img\n    monitoring: true\n"
    diagnostic = find(errors_of(tmp_path, {"liminal.yml": text}), "needs a place")
    assert diagnostic.line == text.lstrip("\n").count("\n")
    assert diagnostic.key_path == "services[0].monitoring"


def test_drift_dag_name_may_not_clash_with_a_pipeline(tmp_path: Path) -> None:
    text = monitored("drift: {reference: /mnt/store/r.csv}").replace(
        "pipeline: p\n", "pipeline: srv_drift\n"
    )
    diagnostic = find(errors_of(tmp_path, {"liminal.yml": text}), "is the DAG `srv_drift`")
    assert diagnostic.key_path == "services[0].monitoring.drift"


def as_json(text: str) -> object:
    """liminal.yml as an editor's YAML server sees it (dates as text)."""
    return yaml.safe_load(text.replace("start_date: 2024-01-01", "start_date: '2024-01-01'"))


def test_editor_schema_accepts_written_forms_and_rejects_typos() -> None:
    validator = jsonschema.Draft202012Validator(liminal_schema())
    good = as_json(
        monitored(
            "prediction_log: false\nalerts: true\n"
            "drift: {reference: /mnt/store/r.csv, stattest: psi}"
        )
    )
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors(as_json(SERVED + "    monitoring: true\n"))) == []
    typo = as_json(monitored("drift: {reference: /mnt/store/r.csv, stattest: pssi}"))
    assert list(validator.iter_errors(typo))
    no_reference = as_json(monitored("drift: true"))
    assert list(validator.iter_errors(no_reference))
