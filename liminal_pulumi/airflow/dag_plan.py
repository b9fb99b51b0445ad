"""DAG plans: what each pipeline's DAG holds, as plain data, computed from the model.

`plan_file(file, facts)` is pure: it reads the validated model and the deployment facts and
returns, per pipeline, the DAG's arguments and every task's operator kind and arguments. The
builder (`dag_builder`) only turns these plans into Airflow objects, so tests check DAG structure
and pod arguments here without Airflow, and the local runner reuses the same plans.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from liminal_pulumi import defaults
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.airflow.runtime_variables import rewrite, rewrite_value, shell_safe_command
from liminal_pulumi.dsl.airflow_rules import DATE_KEYS, DURATION_KEYS
from liminal_pulumi.dsl.model import (
    CreateCloudFormationStackTask,
    DeleteCloudFormationStackTask,
    EmrExecutor,
    JobEndTask,
    JobStartTask,
    KubernetesExecutor,
    LiminalFile,
    Pipeline,
    PythonTask,
    SparkTask,
)
from liminal_pulumi.dsl.names import volume_name

TaskKind = Literal[
    "container",
    "emr_add_steps",
    "emr_step_sensor",
    "job_start",
    "job_end",
    "cloudformation_create",
    "cloudformation_create_sensor",
    "cloudformation_delete",
    "cloudformation_delete_sensor",
]
ALL_SUCCESS = "all_success"
ALL_DONE = "all_done"


@dataclass(frozen=True)
class MountPlan:
    volume: str
    pod_volume: str  # the pod's volume name (a DNS-1123 label, `vol-<volume>`)
    claim: str  # the PersistentVolumeClaim backing the volume on the cluster
    path: str  # where the task sees it
    sub_path: str | None
    read_only: bool
    local_path: Path | None  # where the volume lives on a laptop (local runs)


@dataclass(frozen=True)
class SecretPlan:
    secret: str
    remote_path: str
    local_path_file: Path | None


@dataclass(frozen=True)
class ContainerPlan:
    """A task that runs a command in an image: a pod on EKS, a local process on a laptop."""

    image_tag: str  # as written in liminal.yml
    image_ref: str  # what the cluster pulls (ECR repository URL with tag)
    source: Path | None  # the image's build context, where a local run executes the command
    command: str  # run through `/bin/bash -c`; template expressions moved into `env`
    env: dict[str, str]  # values may be templates (`{{ liminal_var('x') }}`), rendered at run time
    mounts: tuple[MountPlan, ...]
    secrets: tuple[SecretPlan, ...]
    namespace: str
    kubeconfig: str | None  # absolute path; None: in-cluster configuration
    pod_args: dict[str, Any]  # the executor's extra keys, passed on to the pod operator
    # An EKS cluster (deployed by the AWS stack): the pod operator gets its token for it from
    # the AWS connection; None: `kubeconfig` or in-cluster configuration.
    cluster_name: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class TaskPlan:
    task_id: str
    kind: TaskKind
    trigger_rule: str
    description: str | None = None
    do_xcom_push: bool = False
    # kind-specific operator arguments (plain data); `container` holds container tasks' details
    args: dict[str, Any] = field(default_factory=dict)
    container: ContainerPlan | None = None


@dataclass(frozen=True)
class DagPlan:
    dag_id: str
    source: Path  # the liminal.yml the pipeline comes from
    file_name: str
    schedule: str | None
    start_date: dt.datetime
    dagrun_timeout: dt.timedelta
    default_args: dict[str, Any]
    # DAG arguments from the pipeline (catchup, max_active_runs, ...), as Airflow takes them
    dag_args: dict[str, Any]
    description: str
    tasks: tuple[TaskPlan, ...]
    # run-time lookup scopes for `liminal_var` (file-level, then per task id)
    variables: dict[str, Any]
    task_variables: dict[str, dict[str, Any]]
    tags: tuple[str, ...]


def _airflow_value(key: str, value: Any) -> Any:
    """A checked pipeline value (plain JSON, see `dsl.airflow_rules`) as Airflow takes it:
    durations are seconds -> timedelta, dates ISO text -> datetime."""
    if key in DURATION_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if key in DATE_KEYS and isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return value


def _default_args(file: LiminalFile, pipeline: Pipeline) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": pipeline.owner or file.owner or defaults.DEFAULT_DAG_OWNER,
        "depends_on_past": pipeline.depends_on_past,
    }
    for key, value in pipeline.default_args.items():
        args[key] = _airflow_value(key, value)
    return args


def _dag_args(file: LiminalFile, pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's DAG arguments; liminal's defaults for those it does not set (no catchup:
    a new pipeline never backfills from an old start_date unless asked)."""
    args: dict[str, Any] = {"catchup": False}
    for key, value in pipeline.dag_args.items():
        if key in ("description", "tags"):
            continue  # merged with liminal's own below
        args[key] = _airflow_value(key, value)
    return args


def _container(
    file: LiminalFile,
    task: PythonTask | SparkTask,
    command: str,
    executor: KubernetesExecutor,
    facts: DeploymentFacts,
    facts_folder: Path | None,
) -> ContainerPlan:
    image_tag = task.image or ""
    image = next((i for i in file.images if i.image == image_tag), None)
    mounts = []
    for mount in task.mounts:
        volume = next((v for v in file.volumes if v.volume == mount.volume), None)
        mounts.append(
            MountPlan(
                volume=mount.volume,
                pod_volume=volume_name(mount.volume),
                claim=facts.claim(mount.volume, volume.claim_name if volume else None),
                path=mount.path,
                sub_path=mount.sub_path,
                read_only=mount.read_only,
                local_path=volume.local_path if volume else None,
            )
        )
    secrets = []
    for secret_mount in task.secrets:
        secret = next((s for s in file.secrets if s.secret == secret_mount.secret), None)
        secrets.append(
            SecretPlan(
                secret=secret_mount.secret,
                remote_path=secret_mount.remote_path,
                local_path_file=secret.local_path_file if secret else None,
            )
        )
    kubeconfig = None
    if facts.kubeconfig:
        kubeconfig = str((facts_folder or Path.cwd()) / facts.kubeconfig)
    # Run-time values reach the command as environment variables, never as shell code.
    safe_command, values = shell_safe_command(rewrite(command))
    return ContainerPlan(
        image_tag=image_tag,
        image_ref=facts.image_ref(image_tag),
        source=image.source if image else None,
        command=safe_command,
        env={**{k: rewrite(v) for k, v in task.env_vars.items()}, **values},
        mounts=tuple(mounts),
        secrets=tuple(secrets),
        namespace=executor.namespace or facts.namespace,
        kubeconfig=kubeconfig,
        pod_args=dict(executor.pod_args),
        cluster_name=facts.cluster_name,
        region=facts.region,
    )


def spark_submit_arguments(task: SparkTask) -> list[str]:
    """`spark-submit` and its arguments for a spark task (EMR steps and pods share it)."""
    argv = ["spark-submit"]
    if task.master:
        argv += ["--master", task.master]
    if task.class_name:
        argv += ["--class", task.class_name]
    for key, value in task.conf.items():
        argv += ["--conf", f"{key}={value}"]
    argv.append(task.application_source)
    argv += list(task.application_arguments)
    return argv


def _task_plans(
    file: LiminalFile, pipeline: Pipeline, facts: DeploymentFacts, facts_folder: Path | None
) -> list[TaskPlan]:
    trigger_rule = ALL_DONE if pipeline.always_run else ALL_SUCCESS
    metrics = {
        "pipeline": pipeline.pipeline,
        "namespace": file.metrics.namespace,
        "backends": list(file.metrics.backends),
        "region": facts.region,
    }
    plans: list[TaskPlan] = []
    for task in pipeline.tasks:
        common: dict[str, Any] = {
            "task_id": task.task,
            "description": task.description,
            "do_xcom_push": task.do_xcom_push,
        }
        if isinstance(task, JobStartTask):
            plans.append(
                TaskPlan(kind="job_start", trigger_rule=trigger_rule, args=metrics, **common)
            )
        elif isinstance(task, JobEndTask):
            # job_end reports the outcome, so it runs whatever happened before it
            plans.append(TaskPlan(kind="job_end", trigger_rule=ALL_DONE, args=metrics, **common))
        elif isinstance(task, PythonTask | SparkTask):
            executor = file.executor(task.executor)
            if isinstance(task, SparkTask) and isinstance(executor, EmrExecutor):
                plans += _emr_plans(task, executor, trigger_rule, common)
                continue
            if not isinstance(executor, KubernetesExecutor):
                raise ValueError(f"task {task.task}: executor {task.executor} cannot run it")
            command = (
                task.cmd
                if isinstance(task, PythonTask)
                else shlex.join(spark_submit_arguments(task))
            )
            container = _container(file, task, command, executor, facts, facts_folder)
            plans.append(
                TaskPlan(kind="container", trigger_rule=trigger_rule, container=container, **common)
            )
        elif isinstance(task, CreateCloudFormationStackTask):
            stack = {"stack_name": rewrite(task.stack_name)}
            create = {**stack, "cloudformation_parameters": rewrite_value(task.properties)}
            plans.append(
                TaskPlan(
                    kind="cloudformation_create", trigger_rule=trigger_rule, args=create, **common
                )
            )
            plans.append(
                TaskPlan(
                    task_id=f"{task.task}{defaults.SENSOR_TASK_SUFFIX}",
                    kind="cloudformation_create_sensor",
                    trigger_rule=trigger_rule,
                    args=stack,
                )
            )
        elif isinstance(task, DeleteCloudFormationStackTask):
            stack = {"stack_name": rewrite(task.stack_name)}
            plans.append(
                TaskPlan(
                    kind="cloudformation_delete", trigger_rule=trigger_rule, args=stack, **common
                )
            )
            plans.append(
                TaskPlan(
                    task_id=f"{task.task}{defaults.SENSOR_TASK_SUFFIX}",
                    kind="cloudformation_delete_sensor",
                    trigger_rule=trigger_rule,
                    args=stack,
                )
            )
    return plans


def _emr_plans(
    task: SparkTask, executor: EmrExecutor, trigger_rule: str, common: dict[str, Any]
) -> list[TaskPlan]:
    cluster = (
        {"job_flow_id": executor.cluster_id}
        if executor.cluster_id
        else {"job_flow_name": executor.cluster_name}
    )
    step = {
        "Name": task.task,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [rewrite(a) for a in spark_submit_arguments(task)],
        },
    }
    add = {
        **cluster,
        "cluster_states": list(executor.cluster_states),
        "aws_conn_id": executor.aws_conn_id,
        "steps": [step],
    }
    add_task_id = task.task
    xcom = {**common, "do_xcom_push": True}  # the sensor reads the step id from XCom
    watch = {
        "job_flow_id": executor.cluster_id
        or f"{{{{ ti.xcom_pull(task_ids='{add_task_id}', key='job_flow_id') }}}}",
        "step_id": f"{{{{ ti.xcom_pull(task_ids='{add_task_id}')[0] }}}}",
        "aws_conn_id": executor.aws_conn_id,
    }
    return [
        TaskPlan(kind="emr_add_steps", trigger_rule=trigger_rule, args=add, **xcom),
        TaskPlan(
            task_id=f"{task.task}{defaults.SENSOR_TASK_SUFFIX}",
            kind="emr_step_sensor",
            trigger_rule=trigger_rule,
            args=watch,
        ),
    ]


def plan_pipeline(
    file: LiminalFile,
    pipeline: Pipeline,
    facts: DeploymentFacts,
    facts_folder: Path | None = None,
) -> DagPlan:
    """The DAG of one pipeline. `facts_folder` anchors a relative kubeconfig path in the facts."""
    return DagPlan(
        dag_id=pipeline.pipeline,
        source=file.path,
        file_name=file.name,
        schedule=pipeline.schedule,
        start_date=pipeline.start_date,
        dagrun_timeout=dt.timedelta(minutes=pipeline.timeout_minutes),
        default_args=_default_args(file, pipeline),
        dag_args=_dag_args(file, pipeline),
        description=pipeline.dag_args.get("description") or f"liminal pipeline from {file.name}",
        tasks=tuple(_task_plans(file, pipeline, facts, facts_folder)),
        variables=dict(file.variables),
        task_variables={t.task: dict(t.variables) for t in pipeline.tasks if t.variables},
        tags=tuple(
            dict.fromkeys((defaults.DAG_TAG, file.name, *pipeline.dag_args.get("tags", ())))
        ),
    )


def plan_file(
    file: LiminalFile, facts: DeploymentFacts, facts_folder: Path | None = None
) -> list[DagPlan]:
    """Every DAG of one liminal.yml: its pipelines in the order written, then the drift DAGs of
    its monitored services (`drift_plan`)."""
    from liminal_pulumi.airflow.drift_plan import plan_drift_dags

    pipelines = [plan_pipeline(file, p, facts, facts_folder) for p in file.pipelines]
    return pipelines + plan_drift_dags(file, facts, facts_folder)
