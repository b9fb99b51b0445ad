"""Older liminal.yml forms real projects still carry: they load, with a warning each."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from dsl_helpers import errors_of, find, load

from liminal_pulumi.dsl.model import CreateCloudFormationStackTask, SparkImage, SparkTask
from liminal_pulumi.dsl.schema import liminal_schema

PARENT = """
name: infra
type: super
variables:
  cluster_name: infra-spark
executors:
  - executor: emr-executor
    cluster_name: "{{cluster_name}}"
    type: emr
task_defaults:
  spark:
    executor: emr-executor
    master: yarn
    deploy_mode: cluster
    application_source: "s3://code/{{application}}"
    conf:
      spark.sql.hive.verifyPartitionPath: true
pipeline_defaults:
  before_tasks:
    - task: create_cluster
      type: create_cloudformation_stack
      stack_name: "{{cluster_name}}"
      properties:
        Parameters:
          ClusterName: "{{cluster_name}}"
  after_tasks:
    - task: delete_cluster
      type: delete_cloudformation_stack
      stack_name: "{{cluster_name}}"
"""

CHILD = """
name: app
super: infra
variables:
  application: clean.py
pipelines:
  - pipeline: p
    start_date: 2020-01-01
    timeout_minutes: 45
    tasks:
      - task: clean
        type: spark
      - task: local_clean
        type: spark
        executor: default_k8s
        image: my_spark_image
        source: spark_code
        executors: 2
"""


def test_emr_archetype_with_cloudformation_wrapping(tmp_path: Path) -> None:
    (tmp_path / "app/spark_code").mkdir(parents=True)  # the task's image's build context
    project, warnings = load(tmp_path, {"infra/liminal.yml": PARENT, "app/liminal.yml": CHILD})
    (file,) = project.files
    tasks = file.pipelines[0].tasks
    assert [t.task for t in tasks] == [
        "start",
        "create_cluster",
        "clean",
        "local_clean",
        "delete_cluster",
        "end",
    ]
    create = tasks[1]
    assert isinstance(create, CreateCloudFormationStackTask)
    # run-time fields keep placeholders; structural ones (the executor) are rendered
    assert create.stack_name == "{{cluster_name}}"
    assert create.properties == {"Parameters": {"ClusterName": "{{cluster_name}}"}}
    assert file.executor("emr-executor").cluster_name == "infra-spark"  # type: ignore[union-attr]
    clean = tasks[2]
    assert isinstance(clean, SparkTask)
    assert (clean.master, clean.deploy_mode) == ("yarn", "cluster")
    assert clean.application_source == "s3://code/clean.py"
    assert clean.conf == {"spark.sql.hive.verifyPartitionPath": "true"}
    # a task that builds its own image from `source` (older form)
    image = file.image("my_spark_image")
    assert isinstance(image, SparkImage)
    assert image.source == (tmp_path / "app/spark_code").resolve()
    warned = {w.key_path for w in warnings}
    assert {"pipelines[0].tasks[1].source", "pipelines[0].tasks[1].executors"} <= warned


HISTORIC_KEYS = """
name: historic
executors:
  - executor: cluster
    type: emr
    cluster_name: analytics
task_defaults:
  python:
    application_source: "{{job}}"
variables:
  job: job.py
volumes:
  - volume: data
    claim_name: data-claim
images:
  - image: worker
    type: python
pipelines:
  - pipeline: p
    start_date: 2021-06-01
    timeout_minutes: 20
    tasks:
      - task: fan_out
        type: python
        image: worker
        cmd: python -u fan_out.py
        output_path: /mnt/data/out.json
        split_input: true
        mounts:
          - volume: data
            pvc: data-claim
            path: /mnt/data
      - task: crunch
        type: spark
        executor: cluster
        cluster_name: analytics
        application_source: crunch.py
        application_arguments:
          --columns: [price, rooms]
          --limit: 10
"""


def test_keys_the_original_ignored_load_with_a_warning_each(tmp_path: Path) -> None:
    project, warnings = load(tmp_path, {"liminal.yml": HISTORIC_KEYS})
    (file,) = project.files
    fan_out, crunch = file.pipelines[0].tasks[1:3]
    assert fan_out.mounts[0].volume == "data"  # type: ignore[union-attr]
    # the original passed str(value): a list reaches the application as its Python text
    assert crunch.application_arguments == (  # type: ignore[union-attr]
        "--columns",
        "['price', 'rooms']",
        "--limit",
        "10",
    )
    by_path = {w.key_path: w for w in warnings}
    assert set(by_path) == {
        "task_defaults.python.application_source",
        "pipelines[0].tasks[0].output_path",
        "pipelines[0].tasks[0].split_input",
        "pipelines[0].tasks[0].mounts[0].pvc",
        "pipelines[0].tasks[1].cluster_name",
        "pipelines[0].tasks[1].application_arguments.--columns",
    }
    assert "spark" in by_path["task_defaults.python.application_source"].message
    assert by_path["pipelines[0].tasks[1].application_arguments.--columns"].line == 38
    assert all(w.severity == "warning" for w in warnings)


def test_a_misspelt_task_key_stays_an_error(tmp_path: Path) -> None:
    text = HISTORIC_KEYS.replace("output_path:", "output_pat:")
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "unknown key `output_pat`")
    assert error.key_path == "pipelines[0].tasks[0].output_pat"


def test_the_editor_schema_accepts_the_older_forms_the_loader_accepts() -> None:
    schema = liminal_schema()
    older = HISTORIC_KEYS.replace(
        "        cmd: python -u fan_out.py\n",
        "        cmd: python -u fan_out.py\n        source: fan_out\n",
    ).replace("    claim_name: data-claim\n", "    claim_name: data-claim\n    pvc: data-claim\n")
    document = json.loads(json.dumps(yaml.safe_load(older), default=str))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []
