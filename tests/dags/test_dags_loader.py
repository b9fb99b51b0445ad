"""The MWAA loader through Airflow's real DagBag, on Airflow 3.0 and (MWAA's other) 2.11."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    AIRFLOW2_PYTHON,
    AIRFLOW3_PYTHON,
    DATA,
    REPO,
    copy_project,
    make_dags_folder,
    probe,
)

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/myorg/mydatascienceapp:abc123"
FACTS = {
    "images": {"myorg/mydatascienceapp": ECR_IMAGE},
    "claims": {"gettingstartedvol-pvc": "model-store-efs"},
    "namespace": "liminal-jobs",
    "kubeconfig": "kubeconfig.yaml",
}
GOOD = """\
name: GoodNeighbour
images:
  - image: good/app
    type: python
    source: .
pipelines:
  - pipeline: good_pipeline
    start_date: 2024-01-01
    timeout_minutes: 5
    tasks:
      - task: work
        type: python
        image: good/app
        cmd: echo hi
"""


# Two projects under one top-level folder, each with a parent named `infra` (as real trees of
# Apache Liminal examples are): the clash is an import error, yet each app still loads against
# its own parent, keeping keys the original ignored (with a warning) and its spark arguments.
TWINS = {
    "one/archetype/liminal.yml": """\
name: infra
type: super
executors:
  - executor: cluster
    type: emr
    cluster_name: twin-cluster
task_defaults:
  spark:
    executor: cluster
    application_source: s3://code/{{job}}
""",
    "one/app/liminal.yml": """\
name: twin_one
super: infra
variables:
  job: crunch.py
pipelines:
  - pipeline: twin_one_pipeline
    start_date: 2024-01-01
    timeout_minutes: 5
    tasks:
      - task: crunch
        type: spark
        cluster_name: twin-cluster
        application_arguments:
          --columns: [price, rooms]
""",
    "two/archetype/liminal.yml": """\
name: infra
type: super
executors:
  - executor: pods_two
    type: kubernetes
""",
    "two/app/liminal.yml": """\
name: twin_two
super: infra
images:
  - image: twins/two
    type: python
pipelines:
  - pipeline: twin_two_pipeline
    start_date: 2024-01-01
    timeout_minutes: 5
    tasks:
      - task: work
        type: python
        executor: pods_two
        image: twins/two
        cmd: echo hi
        output_path: /tmp/out.json
        split_input: true
""",
}


@pytest.fixture(scope="module")
def dags_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scratch = tmp_path_factory.mktemp("projects")
    iris = copy_project(REPO / "examples" / "iris", scratch / "iris")
    kinds = copy_project(DATA / "kinds", scratch / "kinds")
    stale = copy_project(DATA / "vars", scratch / "stale")
    folder = make_dags_folder(
        tmp_path_factory.mktemp("dags"), [iris, kinds, stale], json.dumps(FACTS)
    )
    home = folder / "liminal"
    # edited after it was compiled: the loader must notice and read the YAML instead
    edited = home / "stale" / "liminal.yml"
    edited.write_text(edited.read_text().replace("vars_pipeline", "vars_pipeline_v2"))
    # a project that is not valid YAML, and one whose one file of two is broken
    (home / "broken").mkdir()
    (home / "broken" / "liminal.yml").write_text("name: Broken\npipelines: [\n  - oops\n")
    bad = GOOD.replace("GoodNeighbour", "Bad").replace("good_", "bad_").replace("good/", "bad/")
    bad = bad.replace("image: bad/app\n        cmd", "image: nope\n        cmd")
    for name, text in {"good": GOOD, "bad": bad}.items():
        (home / "mixed" / name).mkdir(parents=True)
        (home / "mixed" / name / "liminal.yml").write_text(text)
    for relative, text in TWINS.items():
        (home / "twins" / relative).parent.mkdir(parents=True)
        (home / "twins" / relative).write_text(text)
    return folder


@pytest.fixture(
    scope="module", params=[AIRFLOW3_PYTHON, AIRFLOW2_PYTHON], ids=["airflow3", "airflow2"]
)
def bag(
    request: pytest.FixtureRequest, dags_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    return probe(request.param, dags_folder, tmp_path_factory.mktemp("airflow-home"))


def test_dags_one_dag_per_valid_pipeline(bag: dict) -> None:
    assert sorted(bag["dags"]) == [
        "good_pipeline",
        "kinds_pipeline",
        "my_datascience_pipeline",
        "my_datascience_server_drift",  # the iris service's drift check
        "twin_one_pipeline",
        "twin_two_pipeline",
        "vars_pipeline_v2",
    ]


def test_dags_airflow_version_is_the_one_asked_for(bag: dict) -> None:
    assert bag["airflow"] in ("3.0.6", "2.11.0")


def test_dags_broken_files_are_one_located_import_error(bag: dict, dags_folder: Path) -> None:
    ((loader, message),) = bag["import_errors"].items()
    assert Path(loader).name == "liminal_dags.py"
    assert str(dags_folder / "liminal" / "broken" / "liminal.yml") + ":" in message
    assert str(dags_folder / "liminal" / "mixed" / "bad" / "liminal.yml") + ":" in message
    assert "nope" in message  # the unknown image is named
    assert "good" not in message.lower().replace("goodneighbour", "")


def test_dags_parents_of_one_name_clash_but_each_app_loads_with_its_own(
    bag: dict, dags_folder: Path
) -> None:
    ((_, message),) = bag["import_errors"].items()
    twins = dags_folder / "liminal" / "twins"
    assert f"{twins / 'two' / 'archetype' / 'liminal.yml'}:1:7: error: name: duplicate" in message
    assert str(twins / "one" / "app") not in message
    assert str(twins / "two" / "app") not in message
    crunch = bag["dags"]["twin_one_pipeline"]["tasks"][1]["fields"]
    (step,) = crunch["steps"]
    assert step["HadoopJarStep"]["Args"][-2:] == ["--columns", "['price', 'rooms']"]
    assert crunch["job_flow_name"] == "twin-cluster"
    work = bag["dags"]["twin_two_pipeline"]["tasks"][1]
    assert work["class"] == "KubernetesPodOperator"
    assert work["fields"]["image"] == "twins/two"


def test_dags_iris_tasks_in_order_with_pod_arguments(bag: dict, dags_folder: Path) -> None:
    dag = bag["dags"]["my_datascience_pipeline"]
    tasks = dag["tasks"]
    assert [t["task_id"] for t in tasks] == ["start", "train", "validate", "end"]
    assert [t["class"] for t in tasks] == [
        "JobStartOperator",
        "KubernetesPodOperator",
        "KubernetesPodOperator",
        "JobEndOperator",
    ]
    assert [t["upstream"] for t in tasks] == [[], ["start"], ["train"], ["validate"]]
    train = tasks[1]["fields"]
    assert train["image"] == ECR_IMAGE
    assert train["cmds"] == ["/bin/bash", "-c"]
    assert train["arguments"] == ["python -u training.py train"]
    assert train["env_vars"] == {"MOUNT_PATH": "/mnt/gettingstartedvol"}
    assert train["volumes"] == {"vol-gettingstartedvol-pvc": "model-store-efs"}
    assert train["volume_mounts"] == {"vol-gettingstartedvol-pvc": "/mnt/gettingstartedvol"}
    assert train["namespace"] == "liminal-jobs"
    assert train["config_file"] == str(dags_folder / "kubeconfig.yaml")
    assert train["in_cluster"] is False
    assert tasks[1]["module"].startswith("airflow.providers.cncf.kubernetes")
    assert [t["trigger_rule"] for t in tasks] == ["all_success"] * 3 + ["all_done"]
    assert dag["schedule"] == "0 * 1 * *"
    assert dag["catchup"] is False
    assert dag["dagrun_timeout"] == 45 * 60
    assert dag["default_args"]["owner"] == "Bosco Albert Baracus"


def test_dags_every_task_type_gets_its_provider_operator(bag: dict) -> None:
    dag = bag["dags"]["kinds_pipeline"]
    classes = {t["task_id"]: t["class"] for t in dag["tasks"]}
    assert classes == {
        "start": "JobStartOperator",
        "hello": "KubernetesPodOperator",
        "crunch": "KubernetesPodOperator",
        "emr_crunch": "EmrAddStepsOperator",
        "emr_crunch_wait": "EmrStepSensor",
        "make_stack": "CloudFormationCreateStackOperator",
        "make_stack_wait": "CloudFormationCreateStackSensor",
        "drop_stack": "CloudFormationDeleteStackOperator",
        "drop_stack_wait": "CloudFormationDeleteStackSensor",
        "end": "JobEndOperator",
    }
    assert {t["trigger_rule"] for t in dag["tasks"]} == {"all_done"}  # always_run: true
    by_id = {t["task_id"]: t["fields"] for t in dag["tasks"]}
    assert by_id["hello"]["namespace"] == "jobs"  # the executor's namespace wins
    # run-time values reach the pod as environment variables, never as shell code
    assert by_id["hello"]["arguments"] == ['echo "${LIMINAL_VALUE_0}" "${LIMINAL_VALUE_1}"']
    assert by_id["hello"]["env_vars"]["LIMINAL_VALUE_0"] == "{{ liminal_var('greeting') }}"
    assert by_id["hello"]["env_vars"]["LIMINAL_VALUE_1"] == "{{ ds }}"
    assert by_id["hello"]["image"] == "kinds/app"  # no ECR repository known for it
    assert by_id["crunch"]["arguments"][0].startswith("spark-submit --master k8s://")
    assert by_id["emr_crunch"]["job_flow_id"] == "j-ABC123"
    assert by_id["make_stack"]["stack_name"] == "kinds-stack"
    assert dag["default_args"]["retries"] == "2"
    assert dag["default_args"]["retry_delay"] == "0:00:30"
