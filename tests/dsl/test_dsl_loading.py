"""Loading whole projects: the iris example, parents and children, discovery."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pytest
from dsl_helpers import FIXTURES, IRIS, MINIMAL, load, write_tree
from pydantic import ValidationError

from liminal_pulumi import defaults
from liminal_pulumi.dsl.discovery import discover
from liminal_pulumi.dsl.loader import load_project, load_project_with_warnings
from liminal_pulumi.dsl.model import PythonServerImage, PythonTask, SparkTask


def test_iris_example_loads_as_users_know_it() -> None:
    project = load_project(IRIS)
    (file,) = project.files
    (pipeline,) = file.pipelines
    assert file.name == "MyDataScienceApp"
    assert pipeline.pipeline == "my_datascience_pipeline"
    assert [t.task for t in pipeline.tasks] == ["start", "train", "validate", "end"]
    assert pipeline.schedule == "0 * 1 * *"
    assert pipeline.start_date == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    image = file.image("myorg/mydatascienceapp")
    assert isinstance(image, PythonServerImage)
    assert {e.endpoint for e in image.endpoints} >= {"/predict", "/healthcheck"}
    assert image.source == IRIS.resolve()
    train = pipeline.tasks[1]
    assert isinstance(train, PythonTask)
    assert train.cmd == "python -u training.py train"
    assert train.env_vars == {"MOUNT_PATH": "/mnt/gettingstartedvol"}
    assert train.mounts[0].volume == "gettingstartedvol-pvc"
    assert train.executor == defaults.DEFAULT_K8S_EXECUTOR
    volume = file.volume("gettingstartedvol-pvc")
    assert volume.local_path == IRIS.resolve() / ".liminal/volumes/gettingstartedvol"
    (service,) = file.services
    assert service.service == "my_datascience_server"
    assert service.image == "myorg/mydatascienceapp"


def test_one_file_loads_like_its_folder() -> None:
    assert load_project(IRIS / "liminal.yml") == load_project(IRIS)


def test_project_is_immutable_and_picklable() -> None:
    project = load_project(IRIS)
    assert pickle.loads(pickle.dumps(project)) == project
    with pytest.raises(ValidationError):
        project.files[0].pipelines[0].pipeline = "other"  # type: ignore[misc]


def test_parent_files_never_become_files_of_the_project() -> None:
    project = load_project(FIXTURES / "inherited")
    assert sorted(f.name for f in project.files) == ["legacy_app", "recommender"]


def test_three_level_chain_applies_every_parent() -> None:
    project = load_project(FIXTURES / "inherited")
    file = next(f for f in project.files if f.name == "recommender")
    (pipeline,) = file.pipelines
    assert [t.task for t in pipeline.tasks] == [
        "start",
        "platform_setup",
        "team_setup",
        "train",
        "aggregate",
        "team_report",
        "platform_teardown",
        "end",
    ]
    # pipeline_defaults from both parents; extra keys become default_args.
    assert pipeline.timeout_minutes == 30
    assert pipeline.start_date == dt.datetime(2021, 6, 1, tzinfo=dt.UTC)
    assert pipeline.schedule == "@daily"  # schedule_interval is an alias
    assert pipeline.default_args == {"retries": 1, "email": ["ml@example.com"]}
    # inherited top-level keys
    assert file.owner == "Platform Team"
    assert file.metrics.namespace == "Platform"
    assert pipeline.owner == "Platform Team"


def test_parent_image_source_resolves_against_the_parent_folder() -> None:
    project = load_project(FIXTURES / "inherited")
    file = next(f for f in project.files if f.name == "recommender")
    setup = file.image("123456789012.dkr.ecr.us-east-1.amazonaws.com/setup:latest")
    assert setup.source == (FIXTURES / "inherited/platform/setup").resolve()


def test_spark_conf_is_flattened_and_argument_mapping_becomes_pairs() -> None:
    project = load_project(FIXTURES / "inherited")
    file = next(f for f in project.files if f.name == "recommender")
    aggregate = next(t for _, p in project.pipelines() for t in p.tasks if t.task == "aggregate")
    assert isinstance(aggregate, SparkTask)
    assert aggregate.conf == {"spark.executor.memory": "2g", "spark.driver.cores": "1"}
    assert aggregate.application_arguments == ("--input", "{{ input_path }}", "--partitions", "8")
    assert aggregate.class_name == "org.example.Aggregate"
    assert file.executor("emr_cluster").type == "emr"


def test_kubernetes_executor_extra_keys_become_pod_args_merged_with_parent() -> None:
    project = load_project(FIXTURES / "inherited")
    file = next(f for f in project.files if f.name == "recommender")
    executor = file.executor("k8s_small")
    assert executor.type == "kubernetes"
    assert executor.namespace == "recommender"  # the child's value wins
    assert executor.pod_args == {"resources": {"request_memory": "128Mi"}}  # kept from the parent


def test_historic_liminal_file_loads_with_warnings() -> None:
    project, warnings = load_project_with_warnings(FIXTURES / "inherited")
    legacy = next(f for f in project.files if f.name == "legacy_app")
    (pipeline,) = legacy.pipelines
    assert [t.task for t in pipeline.tasks] == [
        "start",
        "prepare",
        "write_inputs",
        "parallel",
        "publish",
        "end",
    ]
    write_inputs = pipeline.tasks[2]
    assert isinstance(write_inputs, PythonTask)
    assert write_inputs.env_vars == {"NUM_FILES": "10", "AWS_PROFILE": "dev"}
    assert write_inputs.secrets[0].remote_path == "/mnt"  # from the top-level secret
    keys = {w.key_path.rsplit(".", 1)[-1] for w in warnings if "legacy" in str(w.file)}
    assert {"env", "input_type", "input_path", "mount", "executors", "endpoints"} <= keys
    env_warning = next(w for w in warnings if w.key_path.endswith(".env"))
    assert env_warning.suggestion == "env_vars"
    assert env_warning.line == 51


def test_older_service_form_becomes_a_service_with_a_server_image() -> None:
    project = load_project(FIXTURES / "inherited")
    legacy = next(f for f in project.files if f.name == "legacy_app")
    (service,) = legacy.services
    assert service.service == "my_python_server"
    server = legacy.image(service.image)
    assert isinstance(server, PythonServerImage)
    assert [e.endpoint for e in server.endpoints] == ["/myendpoint1"]
    assert server.source == (FIXTURES / "inherited/apps/legacy/myserver").resolve()


def test_discovery_finds_both_names_and_skips_hidden_folders(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/liminal.yml": "name: a\n",
            "b/c/liminal.yaml": "name: b\n",
            ".venv/liminal.yml": "name: hidden\n",
            "d/other.yml": "name: other\n",
        },
    )
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["a/liminal.yml", "b/c/liminal.yaml"]


def test_a_single_file_finds_its_parent_in_the_folder_tree(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "parent/liminal.yml": "name: parent\ntype: super\nowner: team\n",
            "child/liminal.yml": "name: child\nsuper: parent\n",
        },
    )
    project = load_project(tmp_path / "child" / "liminal.yml")
    assert [f.name for f in project.files] == ["child"]
    assert project.files[0].owner == "team"


def test_minimal_file_gets_the_base_executors(tmp_path: Path) -> None:
    project, warnings = load(tmp_path, {"liminal.yml": MINIMAL})
    file = project.files[0]
    assert {e.executor: e.type for e in file.executors} == {
        defaults.DEFAULT_K8S_EXECUTOR: "kubernetes",
        defaults.DEFAULT_AIRFLOW_EXECUTOR: "airflow",
    }
    assert warnings == []
