"""Older liminal.yml forms real projects still carry: they load, with a warning each."""

from __future__ import annotations

from pathlib import Path

from dsl_helpers import load

from liminal_pulumi.model import CreateCloudFormationStackTask, SparkImage, SparkTask

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
