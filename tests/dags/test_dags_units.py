"""Pure parts of the DAG work: placeholder rewriting, lookup order, compiled form, bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA, REPO, copy_project

from liminal_pulumi.airflow import compiled
from liminal_pulumi.airflow.bundle import loader_files, project_files
from liminal_pulumi.airflow.dag_plan import plan_file
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.airflow.runtime_variables import AIRFLOW_CONTEXT_NAMES, resolve, rewrite
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.local.run import rewrite_mount_paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python a.py", "python a.py"),
        ("run {{ model }} on {{ ds }}", "run {{ liminal_var('model') }} on {{ ds }}"),
        ("{{ var.value.key }}", "{{ var.value.key }}"),
        ("{{ dag_run.conf['x'] }}", "{{ dag_run.conf['x'] }}"),
        ("{{ macros.ds_add(ds, 1) }}", "{{ macros.ds_add(ds, 1) }}"),
        ("{{a-{{b}}}}", "{{ liminal_var('a-' ~ liminal_var('b')) }}"),
        ("{{ unclosed", "{{ unclosed"),
    ],
)
def test_dags_rewrite_leaves_airflow_names_to_airflow(text: str, expected: str) -> None:
    assert rewrite(text) == expected


def test_dags_rewritten_templates_render_with_jinja_in_lookup_order() -> None:
    import jinja2

    from liminal_pulumi.airflow.runtime_variables import make_macro

    class Run:
        conf = {"a": "conf"}

    class Task:
        task_id = "t"

    macro = make_macro({"a": "file", "b": "file", "c": "file"}, {"t": {"b": "task"}})
    template = jinja2.Environment().from_string(rewrite("{{a}} {{b}} {{c}} {{ zz }} {{ ds }}"))
    text = template.render(liminal_var=macro, dag_run=Run(), task=Task(), ds="2024-01-02")
    assert text == "conf task file {{ zz }} 2024-01-02"


def test_dags_resolve_order_conf_task_file_airflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMTEST_ONLY_ENV", "env")
    airflow = {"x": "airflow", "y": "airflow"}.get
    scopes = {"file_variables": {"x": "file", "w": "{{ v }}!", "v": "nested"}}
    assert resolve("x", conf={"x": "conf"}, airflow_variable=airflow, **scopes) == "conf"
    assert resolve("x", task_variables={"x": "task"}, airflow_variable=airflow, **scopes) == "task"
    assert resolve("x", airflow_variable=airflow, **scopes) == "file"
    assert resolve("y", airflow_variable=airflow, **scopes) == "airflow"
    assert resolve("LIMTEST_ONLY_ENV") == "env"
    assert resolve("w", **scopes) == "nested!"
    assert resolve("missing") == "{{ missing }}"


def test_dags_context_names_cover_installed_airflow() -> None:
    from airflow.sdk.definitions.context import Context

    assert set(Context.__annotations__) <= AIRFLOW_CONTEXT_NAMES


def test_dags_compiled_form_round_trips_and_detects_edits(tmp_path: Path) -> None:
    root = copy_project(REPO / "examples" / "iris", tmp_path / "iris")
    project = load_project(root)
    text = compiled.compile_project(project)
    moved = tmp_path / "elsewhere"
    copy_project(root, moved)
    data = json.loads(text)
    assert compiled.is_current(data, moved)
    assert compiled.project_from_compiled(data, moved) == load_project(moved)
    (moved / "liminal.yml").write_text((moved / "liminal.yml").read_text() + "\n# edited\n")
    assert not compiled.is_current(data, moved)
    (moved / "extra").mkdir()
    assert compiled.read_compiled(moved / "extra" / "missing.json") is None


def test_dags_plan_uses_deployment_facts_and_keeps_task_order() -> None:
    project = load_project(REPO / "examples" / "iris")
    facts = DeploymentFacts(
        images={"myorg/mydatascienceapp": "repo/app:1"}, claims={}, namespace="ns"
    )
    plan, drift = plan_file(project.files[0], facts)  # the pipeline, then its drift DAG
    assert drift.dag_id == "my_datascience_server_drift"
    assert [t.task_id for t in plan.tasks] == ["start", "train", "validate", "end"]
    train = plan.tasks[1].container
    assert train is not None
    assert (train.image_ref, train.namespace, train.kubeconfig) == ("repo/app:1", "ns", None)
    assert train.mounts[0].claim == "gettingstartedvol-pvc"
    assert train.source == project.root


def test_dags_mount_paths_rewrite_only_whole_path_segments() -> None:
    mounts = {"/mnt/vol": "/home/me/vol"}
    assert rewrite_mount_paths("ls /mnt/vol/x /mnt/vol", mounts) == "ls /home/me/vol/x /home/me/vol"
    assert rewrite_mount_paths("/mnt/volume2", mounts) == "/mnt/volume2"


def test_dags_bundle_holds_loader_and_its_imports_only() -> None:
    files = loader_files()
    assert files["liminal_dags.py"].name == "liminal_dags.py"
    assert {
        "liminal_pulumi/airflow/loader.py",
        "liminal_pulumi/airflow/dag_builder.py",
        "liminal_pulumi/airflow/compiled.py",
        "liminal_pulumi/dsl/model.py",
        "liminal_pulumi/dsl/loader.py",  # lazily imported, for projects without a compiled form
        "liminal_pulumi/dsl/__init__.py",
    } <= set(files)
    folders = {Path(k).parts[1] for k in files if k.startswith("liminal_pulumi/")}
    assert not folders & {"serving", "local", "build", "components", "plans", "cli.py"}
    assert all(path.is_file() for path in files.values())


def test_dags_folder_file_in_the_repository_is_the_one_the_package_ships() -> None:
    shipped = loader_files()["liminal_dags.py"]
    assert (REPO / "dags" / "liminal_dags.py").read_text() == shipped.read_text()
    assert "register(globals())" in shipped.read_text()


def test_dags_project_files_hold_yaml_and_current_compiled_form() -> None:
    project = load_project(DATA / "kinds")
    files = project_files(project)
    assert set(files) == {"liminal/kinds/liminal.yml", "liminal/kinds/liminal.compiled.json"}
    data = json.loads(files["liminal/kinds/liminal.compiled.json"])
    assert compiled.is_current(data, DATA / "kinds")


def test_dags_plan_names_the_eks_cluster_of_the_deployment() -> None:
    project = load_project(REPO / "examples" / "iris")
    facts = DeploymentFacts(cluster_name="liminal-dev", region="eu-west-1")
    plan = plan_file(project.files[0], facts)[0]  # the pipeline (drift DAGs follow)
    train = plan.tasks[1].container
    assert train is not None
    assert (train.cluster_name, train.region, train.kubeconfig) == (
        "liminal-dev",
        "eu-west-1",
        None,
    )
    local = plan_file(project.files[0], DeploymentFacts.local())[0]
    assert local.tasks[1].container is not None
    assert local.tasks[1].container.cluster_name is None


def test_dags_executor_keys_the_eks_operator_sets_itself_are_dropped() -> None:
    from liminal_pulumi.airflow.dag_builder import _pod_args

    keys = {"config_file": "/x", "in_cluster": True, "startup_timeout_seconds": 60}
    assert _pod_args(keys, on_eks=True) == {"startup_timeout_seconds": 60}
    assert _pod_args(keys) == keys
