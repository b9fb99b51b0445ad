"""Job metrics against moto's CloudWatch, in-process (end to end: test_dags_local_run)."""

from __future__ import annotations

import datetime as dt
import logging

import boto3
import pytest
from moto import mock_aws

from liminal_pulumi.airflow.job_metrics import JobStartOperator, put_metrics


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def _names(client, namespace: str) -> dict[str, list]:
    metrics = client.list_metrics(Namespace=namespace)["Metrics"]
    return {m["MetricName"]: m["Dimensions"] for m in metrics}


def test_dags_put_metrics_uses_pipeline_dimension(cloudwatch) -> None:
    put_metrics("Ns", "pipe", {"JobResult": (1.0, "Count"), "JobDuration": (2.5, "Seconds")})
    dimension = [{"Name": "ApplicationName", "Value": "pipe"}]
    assert _names(cloudwatch, "Ns") == {"JobResult": dimension, "JobDuration": dimension}
    now = dt.datetime.now(dt.UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="Ns",
        MetricName="JobDuration",
        Dimensions=dimension,
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )
    assert [p["Sum"] for p in stats["Datapoints"]] == [2.5]


def test_dags_job_start_publishes_only_with_cloudwatch_backend(cloudwatch) -> None:
    JobStartOperator(task_id="start", pipeline="p1", namespace="A", backends=[]).execute({})
    assert _names(cloudwatch, "A") == {}
    JobStartOperator(
        task_id="start", pipeline="p1", namespace="A", backends=["cloudwatch"]
    ).execute({})
    assert list(_names(cloudwatch, "A")) == ["JobStarted"]


def test_dags_unreachable_cloudwatch_is_a_warning_not_a_failed_pipeline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A laptop without AWS, or a missing IAM permission: the run goes on, the log says why."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
    operator = JobStartOperator(
        task_id="start", pipeline="p1", namespace="A", backends=["cloudwatch"], region="eu-west-1"
    )
    with caplog.at_level(logging.WARNING):
        operator.execute({})
    assert "job metrics not sent to CloudWatch" in caplog.text
    assert "127.0.0.1:9" in caplog.text
