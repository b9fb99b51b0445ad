"""Every inheritance merge rule, one small project each."""

from __future__ import annotations

from pathlib import Path

from dsl_helpers import load

from liminal_pulumi.dsl.model import KubernetesExecutor, PythonTask

PARENT = "parent/liminal.yml"
CHILD = "child/liminal.yml"

CHILD_PIPELINE = """
name: child
super: parent
pipelines:
  - pipeline: p
    start_date: 2024-01-01
    timeout_minutes: 5
    tasks:
      - task: own
        type: python
        image: img
        cmd: run
images:
  - image: img
    type: python
"""


def child_file(tmp_path: Path, parent: str, child: str = CHILD_PIPELINE):  # noqa: ANN201
    project, _ = load(tmp_path, {PARENT: parent, CHILD: child})
    (file,) = project.files
    return file


def test_images_merge_by_tag_and_child_keys_win(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        images:
          - image: img
            type: python
            python_version: "3.9"
            no_cache: true
          - image: shared
            type: python
        """,
    )
    images = {i.image: i for i in file.images}
    assert set(images) == {"img", "shared"}
    assert images["img"].no_cache is True  # kept from the parent entry
    assert images["img"].python_version == "3.9"
    assert images["img"].source == (Path(tmp_path) / "child").resolve()  # child's entry wins


def test_executors_merge_by_name_and_child_wins(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        executors:
          - executor: k8s
            type: kubernetes
            namespace: parent-ns
            image_pull_policy: Always
        """,
        CHILD_PIPELINE
        + "executors:\n  - executor: k8s\n    type: kubernetes\n    namespace: kid\n",
    )
    executor = file.executor("k8s")
    assert isinstance(executor, KubernetesExecutor)
    assert executor.namespace == "kid"
    assert executor.pod_args == {"image_pull_policy": "Always"}


def test_variables_merge_per_key_child_wins(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        "name: parent\ntype: super\nvariables:\n  a: parent-a\n  b: parent-b\n",
        CHILD_PIPELINE + "variables:\n  b: child-b\n",
    )
    assert file.variables == {"a": "parent-a", "b": "child-b"}


def test_task_defaults_merge_deeply_by_type_and_the_task_wins(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        task_defaults:
          python:
            description: from parent
            env_vars: {A: parent, B: parent}
            mounts:
              - volume: v
                path: /parent
          job_start:
            description: starting
        volumes:
          - volume: v
        """,
        CHILD_PIPELINE.replace("cmd: run", "cmd: run\n        env_vars: {B: task}")
        + "task_defaults:\n  python:\n    env_vars: {C: child}\n",
    )
    start, own, _end = file.pipelines[0].tasks
    assert isinstance(own, PythonTask)
    assert own.env_vars == {"A": "parent", "B": "task", "C": "child"}
    assert own.description == "from parent"
    assert [m.path for m in own.mounts] == ["/parent"]
    assert start.description == "starting"  # task_defaults reach the base's tasks too


def test_task_defaults_lists_are_replaced_not_joined(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        volumes: [{volume: v}]
        task_defaults:
          python:
            mounts: [{volume: v, path: /a}, {volume: v, path: /b}]
        """,
        CHILD_PIPELINE.replace("cmd: run", "cmd: run\n        mounts: [{volume: v, path: /own}]"),
    )
    own = file.pipelines[0].tasks[1]
    assert isinstance(own, PythonTask)
    assert [m.path for m in own.mounts] == ["/own"]


def test_pipeline_defaults_fill_missing_pipeline_keys(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        pipeline_defaults:
          timeout_minutes: 99
          schedule: "@hourly"
          retries: 3
          depends_on_past: true
        """,
    )
    pipeline = file.pipelines[0]
    assert pipeline.timeout_minutes == 5  # the pipeline's own value wins
    assert pipeline.schedule == "@hourly"
    assert pipeline.depends_on_past is True
    assert pipeline.default_args == {"retries": 3}


def test_before_and_after_tasks_wrap_outermost_first(tmp_path: Path) -> None:
    task = "  - task: {name}\n      type: python\n      image: img\n      cmd: x\n"
    project, _ = load(
        tmp_path,
        {
            "grand/liminal.yml": "name: grand\ntype: super\npipeline_defaults:\n"
            "  before_tasks:\n  "
            + task.format(name="g_before")
            + "  after_tasks:\n  "
            + task.format(name="g_after"),
            PARENT: "name: parent\ntype: super\nsuper: grand\npipeline_defaults:\n"
            "  before_tasks:\n  "
            + task.format(name="p_before")
            + "  after_tasks:\n  "
            + task.format(name="p_after"),
            CHILD: CHILD_PIPELINE,
        },
    )
    tasks = [t.task for t in project.files[0].pipelines[0].tasks]
    assert tasks == ["start", "g_before", "p_before", "own", "p_after", "g_after", "end"]


def test_task_template_slot_receives_the_pipeline_tasks(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        pipeline_defaults:
          tasks:
            - task: first
              type: python
              image: img
              cmd: a
            - task: slot
              type: pipeline
            - task: last
              type: python
              image: img
              cmd: z
        """,
    )
    assert [t.task for t in file.pipelines[0].tasks] == ["start", "first", "own", "last", "end"]


def test_service_defaults_merge_into_every_service(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        """
        name: parent
        type: super
        service_defaults:
          workers: 4
          env_vars: {A: parent}
        """,
        CHILD_PIPELINE + "services:\n  - service: s1\n    image: img\n    env_vars: {B: own}\n"
        "  - service: s2\n    image: img\n    workers: 1\n",
    )
    s1, s2 = file.services
    assert (s1.workers, s2.workers) == (4, 1)
    assert s1.env_vars == {"A": "parent", "B": "own"}


def test_unknown_parent_keys_are_inherited(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        "name: parent\ntype: super\nowner: parent-owner\nalways_run: true\n"
        "metrics: {namespace: NS, backends: [cloudwatch]}\n",
    )
    assert file.owner == "parent-owner"
    assert file.metrics.backends == ("cloudwatch",)
    assert file.pipelines[0].always_run is True


def test_volumes_merge_by_name(tmp_path: Path) -> None:
    file = child_file(
        tmp_path,
        "name: parent\ntype: super\nvolumes:\n  - volume: store\n    claim_name: store-pvc\n",
        CHILD_PIPELINE + "volumes:\n  - volume: scratch\n",
    )
    assert {v.volume for v in file.volumes} == {"store", "scratch"}


def test_child_without_super_inherits_only_the_base(tmp_path: Path) -> None:
    project, _ = load(tmp_path, {CHILD: CHILD_PIPELINE.replace("super: parent\n", "")})
    tasks = project.files[0].pipelines[0].tasks
    assert [(t.task, t.type, t.executor) for t in tasks] == [
        ("start", "job_start", "airflow_executor"),
        ("own", "python", "default_k8s"),
        ("end", "job_end", "airflow_executor"),
    ]
