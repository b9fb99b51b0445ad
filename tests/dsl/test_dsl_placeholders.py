"""`{{ }}` placeholders: the renderer, and what loading renders versus leaves for run time."""

from __future__ import annotations

from pathlib import Path

from dsl_helpers import errors_of, find, load_file

from liminal_pulumi.dsl.model import PythonTask, SparkTask
from liminal_pulumi.dsl.placeholders import render, resolve_variables


def test_render_replaces_known_names_with_or_without_spaces() -> None:
    assert render("{{a}}-{{ b }}", {"a": "1", "b": 2}) == "1-2"


def test_render_leaves_unknown_names_and_airflow_macros_verbatim() -> None:
    text = "run {{ ds }} {{ ti.xcom_pull(task_ids='x') }} {{ missing }} {{ var.value.k }}"
    assert render(text, {"other": "x"}) == text


def test_render_nested_placeholders_inner_first() -> None:
    assert render("{{ model-{{env}} }}", {"env": "prod", "model-prod": "m7"}) == "m7"


def test_render_nested_with_unknown_inner_keeps_everything() -> None:
    assert render("{{a-{{ds}}}}", {"a-x": "no"}) == "{{a-{{ds}}}}"


def test_render_follows_values_that_hold_placeholders() -> None:
    assert render("{{a}}", {"a": "<{{b}}>", "b": "B"}) == "<B>"


def test_render_accepts_a_lookup_function_and_renders_booleans_as_yaml() -> None:
    assert render("{{x}} {{y}}", lambda name: {"x": True}.get(name)) == "true {{y}}"


def test_render_reaches_into_mapping_variables_with_dots() -> None:
    assert render("{{ db.host }}", {"db": {"host": "h"}}) == "h"
    assert render("{{ db }}", {"db": {"host": "h"}}) == "{{ db }}"


def test_render_is_bounded_for_self_reference() -> None:
    assert "{{a}}" in render("{{a}}", {"a": "x{{a}}"})


def test_resolve_variables_renders_references_and_reports_cycles() -> None:
    resolved, cyclic = resolve_variables({"a": "{{b}}/{{c}}", "b": "B{{c}}", "c": "C"})
    assert resolved == {"a": "BC/C", "b": "BC", "c": "C"}
    assert cyclic == []
    _, cyclic = resolve_variables({"x": "{{y}}", "y": "{{x}}"})
    assert sorted(cyclic) == ["x", "y"]


FILE = """
name: app
variables:
  env: prod
  tag: "v-{{ env }}"
  image_name: "repo/app:{{tag}}"
  group: {alpha: "1", beta: "{{env}}"}
images:
  - image: "{{ image_name }}"
    type: python
executors:
  - executor: "k8s-{{env}}"
    type: kubernetes
    namespace: "ns-{{ env }}"
volumes:
  - volume: "vol-{{env}}"
pipelines:
  - pipeline: "pipe_{{env}}"
    start_date: 2024-01-01
    timeout_minutes: 5
    schedule: "{{ cron }}"
    tasks:
      - task: "train_{{env}}"
        type: python
        description: "trains for {{env}}"
        executor: "k8s-{{env}}"
        image: "{{ image_name }}"
        cmd: "python train.py --env {{env}} --day {{ ds }}"
        env_vars:
          ENV: "{{env}}"
          DAY: "{{ ds }}"
        variables: group
        mounts:
          - volume: "vol-{{env}}"
            path: "/mnt/{{env}}"
      - task: aggregate
        type: spark
        executor: "k8s-{{env}}"
        application_source: app.py
        conf: {spark.app.name: "{{env}}"}
        application_arguments: ["{{env}}", "{{ ds }}"]
services:
  - service: "api-{{env}}"
    image: "{{ image_name }}"
    env_vars: {ENV: "{{env}}"}
"""


def test_structural_fields_are_rendered_when_loading(tmp_path: Path) -> None:
    file = load_file(tmp_path, FILE.replace('"{{ cron }}"', '"@daily"'))
    assert file.variables["image_name"] == "repo/app:v-prod"
    assert [i.image for i in file.images] == ["repo/app:v-prod"]
    assert file.executor("k8s-prod").namespace == "ns-prod"
    assert file.volumes[0].volume == "vol-prod"
    pipeline = file.pipelines[0]
    assert pipeline.pipeline == "pipe_prod"
    train = pipeline.tasks[1]
    assert isinstance(train, PythonTask)
    assert (train.task, train.executor, train.image) == (
        "train_prod",
        "k8s-prod",
        "repo/app:v-prod",
    )
    assert train.description == "trains for prod"
    assert train.mounts[0].path == "/mnt/prod"
    assert file.services[0].service == "api-prod"
    assert file.services[0].env_vars == {"ENV": "prod"}


def test_run_time_fields_keep_their_placeholders(tmp_path: Path) -> None:
    file = load_file(tmp_path, FILE.replace('"{{ cron }}"', '"@daily"'))
    train, aggregate = file.pipelines[0].tasks[1:3]
    assert isinstance(train, PythonTask) and isinstance(aggregate, SparkTask)
    assert train.cmd == "python train.py --env {{env}} --day {{ ds }}"
    assert train.env_vars == {"ENV": "{{env}}", "DAY": "{{ ds }}"}
    assert aggregate.conf == {"spark.app.name": "{{env}}"}
    assert aggregate.application_arguments == ("{{env}}", "{{ ds }}")


def test_task_variables_may_name_a_mapping_variable(tmp_path: Path) -> None:
    file = load_file(tmp_path, FILE.replace('"{{ cron }}"', '"@daily"'))
    train = file.pipelines[0].tasks[1]
    assert train.variables == {"alpha": "1", "beta": "prod"}


def test_schedule_placeholder_is_rendered_then_checked(tmp_path: Path) -> None:
    text = FILE.replace("env: prod", "env: prod\n  cron: 0 3 * * *")
    assert load_file(tmp_path, text).pipelines[0].schedule == "0 3 * * *"
    broken = FILE.replace("env: prod", "env: prod\n  cron: 0 99 * * *")
    error = find(errors_of(tmp_path / "b", {"liminal.yml": broken}), "cron")
    assert error.key_path == "pipelines[0].schedule"


def test_variables_referring_to_each_other_in_a_cycle_are_an_error(tmp_path: Path) -> None:
    text = FILE.replace("env: prod", 'env: "{{ tag }}"').replace('"@daily"', '"@daily"')
    error = find(errors_of(tmp_path, {"liminal.yml": text}), "refers back to itself")
    assert error.key_path.startswith("variables.")
    assert error.line is not None
