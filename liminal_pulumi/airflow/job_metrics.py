"""The `start` and `end` tasks of every pipeline: job metrics, and the run's verdict.

`JobStartOperator` publishes JobStarted; `JobEndOperator` (trigger rule all_done, so it always
runs) publishes JobResult (1 success, 0 failure) and JobDuration (seconds since the run started),
then fails itself when any other task of the run failed: it is the DAG's last task, and Airflow
judges a run by its last tasks, so without this a run with a failed task could end "success"
behind an `always_run` pipeline. Metrics go to CloudWatch (dimension ApplicationName = pipeline)
only when the file's `metrics.backends` includes `cloudwatch`. Publishing is best effort: a
metric that cannot be sent (no credentials on a laptop, a missing IAM permission, CloudWatch
unreachable) is a warning in the task's log, never a failed pipeline, and it gives up within
seconds rather than retrying for minutes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from liminal_pulumi import defaults

try:  # Airflow 3
    from airflow.sdk import BaseOperator
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator  # type: ignore[no-redef]

from airflow.exceptions import AirflowException

log = logging.getLogger(__name__)

CLOUDWATCH = defaults.CLOUDWATCH_BACKEND
FAILED_STATES = frozenset({"failed", "upstream_failed"})


def put_metrics(
    namespace: str | None,
    pipeline: str,
    values: Mapping[str, tuple[float, str]],
    region: str | None = None,
) -> None:
    """Publish `name -> (value, unit)` to CloudWatch under the pipeline's dimension."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=defaults.METRICS_TIMEOUT_SECONDS,
        read_timeout=defaults.METRICS_TIMEOUT_SECONDS,
        retries={"total_max_attempts": defaults.METRICS_ATTEMPTS, "mode": "standard"},
    )
    client = boto3.client("cloudwatch", region_name=region, config=config)
    now = dt.datetime.now(dt.UTC)
    client.put_metric_data(
        Namespace=namespace or defaults.DAG_TAG,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": defaults.CLOUDWATCH_DIMENSION, "Value": pipeline}],
                "Timestamp": now,
                "Value": value,
                "Unit": unit,
            }
            for name, (value, unit) in values.items()
        ],
    )


class _JobMetricsOperator(BaseOperator):
    ui_color = "#c4e3ff"

    def __init__(
        self,
        *,
        pipeline: str,
        namespace: str | None = None,
        backends: Sequence[str] = (),
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.namespace = namespace
        self.backends = tuple(backends)
        self.region = region

    def _publish(self, values: Mapping[str, tuple[float, str]]) -> None:
        self.log.info("job metrics for %s: %s", self.pipeline, dict(values))
        if CLOUDWATCH not in self.backends:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            put_metrics(self.namespace, self.pipeline, values, self.region)
        except (BotoCoreError, ClientError) as error:
            self.log.warning("job metrics not sent to CloudWatch: %s", error)


class JobStartOperator(_JobMetricsOperator):
    def execute(self, context: Any) -> None:
        self._publish({"JobStarted": (1.0, "Count")})


def failed_tasks(context: Any, own_task_id: str) -> list[str]:
    """The ids of this run's tasks (other than `own_task_id`) that failed."""
    dag_run = context["dag_run"]
    if hasattr(dag_run, "get_task_instances"):  # Airflow 2: the ORM DagRun
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    else:  # Airflow 3: tasks reach the metadata only through the execution API
        ti = context["ti"]
        by_run = ti.get_task_states(dag_id=ti.dag_id, run_ids=[dag_run.run_id])
        states = dict(by_run.get(dag_run.run_id, {}))
    return sorted(
        task_id
        for task_id, state in states.items()
        if task_id != own_task_id and str(getattr(state, "value", state)) in FAILED_STATES
    )


class JobEndOperator(_JobMetricsOperator):
    def execute(self, context: Any) -> None:
        failed = failed_tasks(context, self.task_id)
        started = getattr(context["dag_run"], "start_date", None)
        duration = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else 0.0
        self._publish(
            {
                "JobResult": (0.0 if failed else 1.0, "Count"),
                "JobDuration": (duration, "Seconds"),
            }
        )
        if failed:
            raise AirflowException(f"pipeline {self.pipeline}: failed tasks: {', '.join(failed)}")
