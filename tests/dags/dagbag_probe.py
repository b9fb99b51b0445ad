"""Load a DAGs folder through Airflow's real DagBag and print what it holds, as JSON.

Run in a subprocess (any Airflow venv) so each test gets its own AIRFLOW_HOME and LIMINAL_HOME:
    python dagbag_probe.py DAGS_FOLDER
"""

from __future__ import annotations

import json
import os
import sys


def describe(task) -> dict:
    fields = {}
    for name in (
        "image",
        "cmds",
        "arguments",
        "namespace",
        "config_file",
        "in_cluster",
        "cluster_name",
        "region",
        "aws_conn_id",
    ):
        if hasattr(task, name):
            fields[name] = getattr(task, name)
    if hasattr(task, "env_vars"):
        env = task.env_vars or {}
        fields["env_vars"] = dict(env) if isinstance(env, dict) else {e.name: e.value for e in env}
    if hasattr(task, "volumes"):
        fields["volumes"] = {
            v.name: v.persistent_volume_claim.claim_name for v in task.volumes or []
        }
    if hasattr(task, "volume_mounts"):
        fields["volume_mounts"] = {m.name: m.mount_path for m in task.volume_mounts or []}
    for name in ("stack_name", "steps", "job_flow_id", "job_flow_name", "step_id"):
        if hasattr(task, name):
            fields[name] = getattr(task, name)
    return {
        "task_id": task.task_id,
        "class": type(task).__name__,
        "module": type(task).__module__,
        "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
        "upstream": sorted(task.upstream_task_ids),
        "fields": fields,
    }


def topological(dag) -> list:
    order, seen = [], set()
    tasks = list(dag.tasks)
    while len(order) < len(tasks):
        for task in tasks:
            if task.task_id not in seen and task.upstream_task_ids <= seen:
                order.append(task)
                seen.add(task.task_id)
    return order


def main() -> None:
    import airflow
    from airflow.models import DagBag

    folder = sys.argv[1]
    bag = DagBag(dag_folder=folder, include_examples=False)
    # Every file the DagBag imported as a DAG file (it names their modules unusual_prefix_...).
    parsed = sorted(
        os.path.relpath(module.__file__, folder)
        for name, module in list(sys.modules.items())
        if name.startswith("unusual_prefix_") and getattr(module, "__file__", None)
    )
    out = {
        "airflow": airflow.__version__,
        "parsed_files": parsed,
        "import_errors": {str(k): v for k, v in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "schedule": str(getattr(dag, "schedule", getattr(dag, "schedule_interval", None))),
                "catchup": dag.catchup,
                "dagrun_timeout": dag.dagrun_timeout.total_seconds(),
                "default_args": {k: str(v) for k, v in dag.default_args.items()},
                "tasks": [describe(t) for t in topological(dag)],
            }
            for dag_id, dag in sorted(bag.dags.items())
        },
    }
    print("PROBE" + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
