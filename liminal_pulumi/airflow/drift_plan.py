"""The drift pipeline of a monitored service, as plain data (pure, like `dag_plan`).

For a service with `monitoring.drift`, the DAG `<service>_drift` on the drift's `schedule`:
`start` (job_start) -> `drift` (a container task: `python -m liminal_pulumi.monitoring.drift`
with the service's mounts, read-write since it writes the report) -> `end` (job_end, JobResult:
a failed drift run alarms like any pipeline). It is built as a liminal pipeline and planned by
`dag_plan.plan_pipeline`, so the loader, `liminal run` and the pod arguments treat it exactly as
a pipeline written in liminal.yml. The task runs in `drift.image`, else the platform's drift image
(`defaults.DRIFT_IMAGE`, the tag the deployment facts map to a repository); locally it runs in
the current Python, which needs the `monitoring` extra.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from liminal_pulumi import defaults
from liminal_pulumi.airflow.dag_plan import DagPlan, plan_pipeline
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.dsl.model import (
    Drift,
    JobEndTask,
    JobStartTask,
    LiminalFile,
    Monitoring,
    Mount,
    Pipeline,
    PythonTask,
    Service,
)
from liminal_pulumi.monitoring.paths import drift_dir, predictions_dir


def drift_pipeline_name(service: Service) -> str:
    return f"{service.service}{defaults.DRIFT_PIPELINE_SUFFIX}"


def drift_command(service: Service, monitoring: Monitoring, drift: Drift, file: LiminalFile) -> str:
    """The drift task's command line (container paths; the local runner rewrites them)."""
    argv = [
        "python",
        "-m",
        "liminal_pulumi.monitoring.drift",
        "--name",
        drift_pipeline_name(service),
        "--reference",
        drift.reference,
        "--predictions",
        predictions_dir(monitoring),
        "--out",
        drift_dir(monitoring),
        "--drift-share",
        str(drift.drift_share),
        "--window-hours",
        str(drift.window_hours),
        "--max-rows",
        str(drift.max_rows),
        "--min-rows",
        str(drift.min_rows),
    ]
    if drift.stattest:
        argv += ["--stattest", drift.stattest]
    if drift.threshold is not None:
        argv += ["--threshold", str(drift.threshold)]
    if drift.features:
        argv += ["--features", ",".join(drift.features)]
    if file.metrics.namespace:
        argv += ["--namespace", file.metrics.namespace]
    if "cloudwatch" in file.metrics.backends:
        argv.append("--cloudwatch")
    return shlex.join(argv)


def drift_pipeline(file: LiminalFile, service: Service) -> Pipeline | None:
    """The liminal pipeline that checks `service` for drift; None without `monitoring.drift`."""
    monitoring = service.monitoring
    if monitoring is None or monitoring.drift is None:
        return None
    drift = monitoring.drift
    task = PythonTask(
        task="drift",
        executor=defaults.DEFAULT_K8S_EXECUTOR,
        description=f"compare {service.service}'s logged requests with {drift.reference}",
        image=drift.image or defaults.DRIFT_IMAGE,
        cmd=drift_command(service, monitoring, drift, file),
        # The report is written next to the model: the service's volumes, writable here.
        mounts=tuple(
            Mount(volume=m.volume, path=m.path, sub_path=m.sub_path, read_only=False)
            for m in service.mounts
        ),
        env_vars={"EVIDENTLY_DISABLE_TELEMETRY": "1"},
    )
    return Pipeline(
        pipeline=drift_pipeline_name(service),
        start_date=defaults.DRIFT_START_DATE,
        timeout_minutes=defaults.DRIFT_TIMEOUT_MINUTES,
        schedule=drift.schedule,
        tasks=(
            JobStartTask(task=defaults.BASE_START_TASK, executor=defaults.DEFAULT_AIRFLOW_EXECUTOR),
            task,
            JobEndTask(task=defaults.BASE_END_TASK, executor=defaults.DEFAULT_AIRFLOW_EXECUTOR),
        ),
    )


def plan_drift_dags(
    file: LiminalFile, facts: DeploymentFacts, facts_folder: Path | None = None
) -> list[DagPlan]:
    """The drift DAGs of one liminal.yml's monitored services, in the order they are written."""
    plans = []
    for service in file.services:
        pipeline = drift_pipeline(file, service)
        if pipeline is not None:
            plan = plan_pipeline(file, pipeline, facts, facts_folder)
            if defaults.CLOUDWATCH_BACKEND in file.metrics.backends:
                plan = _as_drift_service_account(plan)
            plans.append(dataclasses.replace(plan, tags=(*plan.tags, defaults.DRIFT_DAG_TAG)))
    return plans


def _as_drift_service_account(plan: DagPlan) -> DagPlan:
    """The drift task's pod runs as the service account whose IAM role (IRSA, created by the
    Monitoring component) may put its metrics in CloudWatch; nothing else gets that role."""
    tasks = []
    for task in plan.tasks:
        if task.container is not None:
            pod_args = {**task.container.pod_args}
            pod_args.setdefault("service_account_name", defaults.DRIFT_SERVICE_ACCOUNT)
            container = dataclasses.replace(task.container, pod_args=pod_args)
            task = dataclasses.replace(task, container=container)
        tasks.append(task)
    return dataclasses.replace(plan, tasks=tuple(tasks))
