"""The drift pipeline: its DAG plan (pure) and the check on iris data shifted by a known amount."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

import pytest

from liminal_pulumi.airflow.dag_plan import plan_file
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.monitoring.drift import DriftSettings, main, metric_values, run_check

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
NOW = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.UTC)


def test_a_monitored_service_gets_a_drift_dag_with_its_schedule_and_mounts() -> None:
    project = load_project(IRIS)
    (file,) = project.files
    facts = DeploymentFacts(images={"liminal-drift": "123.dkr.ecr/liminal-drift@sha256:ab"})
    plans = {p.dag_id: p for p in plan_file(file, facts)}
    drift = plans["my_datascience_server_drift"]
    assert drift.schedule == "@daily"
    assert [t.task_id for t in drift.tasks] == ["start", "drift", "end"]
    task = drift.tasks[1].container
    assert task is not None
    assert task.image_ref == "123.dkr.ecr/liminal-drift@sha256:ab"
    argv = shlex.split(task.command)
    assert argv[:3] == ["python", "-m", "liminal_pulumi.monitoring.drift"]
    options = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert options["--reference"] == "/mnt/gettingstartedvol/reference.csv"
    assert options["--predictions"] == (
        "/mnt/gettingstartedvol/monitoring/my_datascience_server/predictions"
    )
    assert options["--out"] == "/mnt/gettingstartedvol/monitoring/my_datascience_server/drift"
    assert options["--stattest"] == "ks"
    assert [(m.path, m.read_only) for m in task.mounts] == [("/mnt/gettingstartedvol", False)]
    assert "drift" in drift.tags


def test_the_drift_pod_runs_as_the_metrics_service_account_only_when_it_publishes(
    tmp_path: Path,
) -> None:
    from liminal_pulumi import defaults
    from liminal_pulumi.airflow.dag_builder import build_dag

    text = (IRIS / "liminal.yml").read_text()
    head, sep, rest = text.partition("name: MyDataScienceApp\n")
    (tmp_path / "liminal.yml").write_text(
        head + sep + "metrics:\n  backends: [cloudwatch]\n" + rest
    )
    facts = DeploymentFacts(cluster_name="liminal-dev", region="eu-west-1")
    for folder, expected in ((tmp_path, defaults.DRIFT_SERVICE_ACCOUNT), (IRIS, None)):
        (file,) = load_project(folder).files
        (drift,) = [p for p in plan_file(file, facts) if p.dag_id.endswith("_drift")]
        container = drift.tasks[1].container
        assert container is not None
        assert container.pod_args.get("service_account_name") == expected
        pod = build_dag(drift).get_task("drift")
        assert getattr(pod, "service_account_name", None) == expected


def test_an_unmonitored_service_gets_no_drift_dag(tmp_path: Path) -> None:
    text = (IRIS / "liminal.yml").read_text()
    cut = text.index("    # Log every prediction")
    (tmp_path / "liminal.yml").write_text(text[:cut])
    (file,) = load_project(tmp_path).files
    assert [p.dag_id for p in plan_file(file, DeploymentFacts.local())] == [
        "my_datascience_pipeline"
    ]


def _iris() -> object:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.drop(columns=["target"])
    frame.columns = FEATURES
    return frame


def _write_case(folder: Path, shift: dict[str, float], rows: int = 200) -> DriftSettings:
    """Reference: the iris data; logged requests: a resample of it with `shift` added."""
    reference = _iris()
    reference.to_csv(folder / "reference.csv", index=False)  # type: ignore[attr-defined]
    current = reference.sample(rows, replace=True, random_state=11)  # type: ignore[attr-defined]
    for column, amount in shift.items():
        current[column] = current[column] + amount
    logs = folder / "predictions"
    logs.mkdir()
    with (logs / "host-1.jsonl").open("w") as stream:
        for index, row in enumerate(current.to_dict("records")):
            moment = NOW - dt.timedelta(minutes=index)
            features = {k: f"{v:.2f}" for k, v in row.items()}  # as clients send: JSON text
            record = {"time": moment.isoformat(timespec="milliseconds"), "status": 200}
            stream.write(json.dumps({**record, "features": features}) + "\n")
        stream.write('{"time": "cut by a crash')  # a torn last line is skipped
    return DriftSettings(
        reference=folder / "reference.csv",
        predictions=logs,
        out=folder / "drift",
        name="srv_drift",
        now=NOW,
    )


def test_a_shifted_feature_drifts_and_the_others_do_not(tmp_path: Path) -> None:
    summary = run_check(_write_case(tmp_path, {"petal_length": 1.5}))
    assert summary["drifted_features"] == ["petal_length"]
    assert summary["drift_share"] == pytest.approx(0.25)
    assert summary["status"] == "no_drift"  # one feature of four: under the 0.5 share
    assert summary["current_rows"] == 200 and summary["reference_rows"] == 150
    assert (tmp_path / "drift" / "report.html").stat().st_size > 10_000
    written = json.loads((tmp_path / "drift" / "summary.json").read_text())
    assert written["features"]["petal_length"]["drifted"] is True
    assert written["features"]["sepal_width"]["drifted"] is False
    metrics = {(n, d.get("Feature")): v for n, v, d in metric_values(summary)}
    assert metrics[("DriftShare", None)] == pytest.approx(0.25)
    assert metrics[("Drifted", "petal_length")] == 1.0
    assert metrics[("Drifted", "petal_width")] == 0.0


def test_two_shifted_features_make_the_dataset_drift(tmp_path: Path) -> None:
    summary = run_check(_write_case(tmp_path, {"petal_width": 0.8, "sepal_length": 1.2}))
    assert summary["drifted_features"] == ["petal_width", "sepal_length"]
    assert summary["status"] == "drift" and summary["dataset_drift"] is True


def test_an_unshifted_batch_reports_no_drift(tmp_path: Path) -> None:
    summary = run_check(_write_case(tmp_path, {}))
    assert summary["drifted_features"] == []
    assert summary["status"] == "no_drift" and summary["drift_share"] == 0


def test_too_few_requests_give_no_verdict(tmp_path: Path) -> None:
    settings = _write_case(tmp_path, {"petal_length": 3.0}, rows=10)
    summary = run_check(settings)
    assert summary["status"] == "insufficient_data" and "min_rows=30" in summary["reason"]
    assert [name for name, _, _ in metric_values(summary)] == ["CurrentRows"]


def test_requests_outside_the_window_are_left_out(tmp_path: Path) -> None:
    settings = _write_case(tmp_path, {"petal_length": 3.0})
    summary = run_check(DriftSettings(**{**settings.__dict__, "window_hours": 1.0}))
    assert summary["current_rows"] == 61  # one a minute: minutes 0 to 60, the boundary included


def test_a_missing_reference_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--reference",
            str(tmp_path / "nope.csv"),
            "--predictions",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1
    assert "no reference data at" in capsys.readouterr().err
