"""Turn DAG plans (`dag_plan`) into Airflow DAGs and operators.

Container tasks become pods: the Amazon provider's `EksPodOperator` when the deployment names an
EKS cluster (the AWS stack's case), else the `KubernetesPodOperator` (kubeconfig file or in-cluster
configuration). The local runner passes its own `container_operator` factory to run them as local
processes instead, so all build the very same DAG shape from the same plan. Amazon provider
operators are imported only when a plan needs them, which keeps a parse without them fast. Works
on Airflow 2.11 and 3.0.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.airflow.dag_plan import ContainerPlan, DagPlan, TaskPlan
from liminal_pulumi.airflow.job_metrics import JobEndOperator, JobStartOperator
from liminal_pulumi.airflow.runtime_variables import MACRO_NAME, make_macro

try:  # Airflow 3
    from airflow.sdk import DAG, BaseOperator
except ImportError:  # Airflow 2
    from airflow.models import DAG, BaseOperator  # type: ignore[assignment,no-redef]

log = logging.getLogger(__name__)

ContainerOperatorFactory = Callable[[TaskPlan, ContainerPlan, dict[str, Any]], BaseOperator]

# liminal's historic `resources` keys on a kubernetes executor -> container resource fields
_LEGACY_RESOURCES = {
    "request_memory": ("requests", "memory"),
    "request_cpu": ("requests", "cpu"),
    "limit_memory": ("limits", "memory"),
    "limit_cpu": ("limits", "cpu"),
    "limit_gpu": ("limits", "nvidia.com/gpu"),
}


@functools.cache
def _pod_operator_parameters() -> frozenset[str]:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    names: set[str] = set()
    for cls in KubernetesPodOperator.__mro__:
        init = cls.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return frozenset(names - {"self", "args", "kwargs"})


# Set by EksPodOperator itself from the cluster's name: an executor's value cannot apply.
_EKS_MANAGED_ARGS = frozenset({"config_file", "in_cluster", "cluster_context"})


def _pod_args(pod_args: Mapping[str, Any], on_eks: bool = False) -> dict[str, Any]:
    """The executor's extra keys as KubernetesPodOperator arguments (unknown keys are logged)."""
    from kubernetes.client import models as k8s

    accepted = _pod_operator_parameters()
    out: dict[str, Any] = {}
    for key, value in pod_args.items():
        if on_eks and key in _EKS_MANAGED_ARGS:
            log.warning("kubernetes executor key %r is ignored: the EKS cluster sets it", key)
            continue
        if key == "resources" and isinstance(value, Mapping):
            fields: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
            for name, amount in value.items():
                if name in _LEGACY_RESOURCES:
                    kind, resource = _LEGACY_RESOURCES[name]
                    fields[kind][resource] = amount
                elif name in fields and isinstance(amount, Mapping):
                    fields[name].update(amount)
            out["container_resources"] = k8s.V1ResourceRequirements(
                requests=fields["requests"] or None, limits=fields["limits"] or None
            )
        elif key in accepted:
            out[key] = value
        else:
            log.warning("kubernetes executor key %r is not a KubernetesPodOperator argument", key)
    return out


def kubernetes_pod_operator(
    task: TaskPlan, container: ContainerPlan, common: dict[str, Any]
) -> BaseOperator:
    """A pod on the cluster running the task's command in its image: an `EksPodOperator` when
    the plan names an EKS cluster, else a `KubernetesPodOperator`."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.providers.cncf.kubernetes.secret import Secret
    from kubernetes.client import models as k8s

    volumes: list[k8s.V1Volume] = []
    mounts: list[k8s.V1VolumeMount] = []
    for mount in container.mounts:
        # one pod volume per claim; several mounts may share it
        if all(v.name != mount.pod_volume for v in volumes):
            volumes.append(
                k8s.V1Volume(
                    name=mount.pod_volume,
                    persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                        claim_name=mount.claim
                    ),
                )
            )
        mounts.append(
            k8s.V1VolumeMount(
                name=mount.pod_volume,
                mount_path=mount.path,
                sub_path=mount.sub_path,
                read_only=mount.read_only,
            )
        )
    secrets = [
        Secret(deploy_type="volume", deploy_target=s.remote_path, secret=s.secret)
        for s in container.secrets
    ]
    arguments: dict[str, Any] = {
        **common,
        **_pod_args(container.pod_args, on_eks=container.cluster_name is not None),
        "namespace": container.namespace,
        "image": container.image_ref,
        "cmds": ["/bin/bash", "-c"],
        "arguments": [container.command],
        "env_vars": dict(container.env),
        "volumes": volumes,
        "volume_mounts": mounts,
        "secrets": secrets,
        "get_logs": True,
        "on_finish_action": "delete_pod",
    }
    if container.cluster_name is not None:
        # Builds its kubeconfig when the task runs: DescribeCluster and a token signed with the
        # connection's credentials (on MWAA the execution role, allowed by its access entry), by
        # the provider's own Python module; no AWS CLI on the worker, no kubeconfig file.
        from airflow.providers.amazon.aws.operators.eks import EksPodOperator

        return EksPodOperator(
            **arguments,
            cluster_name=container.cluster_name,
            region=container.region,
            aws_conn_id=defaults.AWS_CONN_ID,
        )
    if container.kubeconfig:
        arguments.update(config_file=container.kubeconfig, in_cluster=False)
    return KubernetesPodOperator(**arguments)


def _other_operator(task: TaskPlan, common: dict[str, Any]) -> BaseOperator:
    args = task.args
    if task.kind == "job_start":
        return JobStartOperator(**common, **args)
    if task.kind == "job_end":
        return JobEndOperator(**common, **args)
    if task.kind == "emr_add_steps":
        from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

        return EmrAddStepsOperator(**common, **args)
    if task.kind == "emr_step_sensor":
        from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

        return EmrStepSensor(**common, **args)
    if task.kind == "cloudformation_create":
        from airflow.providers.amazon.aws.operators.cloud_formation import (
            CloudFormationCreateStackOperator,
        )

        return CloudFormationCreateStackOperator(**common, **args)
    if task.kind == "cloudformation_create_sensor":
        from airflow.providers.amazon.aws.sensors.cloud_formation import (
            CloudFormationCreateStackSensor,
        )

        return CloudFormationCreateStackSensor(**common, **args)
    if task.kind == "cloudformation_delete":
        from airflow.providers.amazon.aws.operators.cloud_formation import (
            CloudFormationDeleteStackOperator,
        )

        return CloudFormationDeleteStackOperator(**common, **args)
    if task.kind == "cloudformation_delete_sensor":
        from airflow.providers.amazon.aws.sensors.cloud_formation import (
            CloudFormationDeleteStackSensor,
        )

        return CloudFormationDeleteStackSensor(**common, **args)
    raise ValueError(f"task {task.task_id}: no operator for kind {task.kind}")


def build_dag(
    plan: DagPlan, container_operator: ContainerOperatorFactory = kubernetes_pod_operator
) -> DAG:
    """The Airflow DAG of a plan: its tasks chained in order."""
    dag = DAG(
        dag_id=plan.dag_id,
        description=plan.description,
        schedule=plan.schedule,
        start_date=plan.start_date,
        dagrun_timeout=plan.dagrun_timeout,
        **plan.dag_args,
        default_args=dict(plan.default_args),
        tags=list(plan.tags),
        user_defined_macros={MACRO_NAME: make_macro(plan.variables, plan.task_variables)},
    )
    previous = None
    for task in plan.tasks:
        common: dict[str, Any] = {
            "task_id": task.task_id,
            "trigger_rule": task.trigger_rule,
            "do_xcom_push": task.do_xcom_push,
            "dag": dag,
        }
        if task.description:
            common["doc"] = task.description
        if task.container is not None:
            operator = container_operator(task, task.container, common)
        else:
            operator = _other_operator(task, common)
        if previous is not None:
            previous >> operator
        previous = operator
    return dag
