"""The DAGs folder exactly as the AWS stack uploads it, through a real DagBag on MWAA's two
Airflow versions: what the DAG processor parses, and how container tasks reach EKS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import AIRFLOW2_PYTHON, AIRFLOW3_PYTHON, REPO, copy_project, make_dags_folder, probe

from liminal_pulumi.components.platform import deployment_facts_json

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/liminal-dev/myorg/mydatascienceapp:1"
CLUSTER = "liminal-dev"
REGION = "eu-west-1"
VERSIONS = {"3.0.6": AIRFLOW3_PYTHON, "2.11.0": AIRFLOW2_PYTHON}
AUTH_PROBE = Path(__file__).resolve().parent / "eks_auth_probe.py"


def stack_facts() -> str:
    """What the platform writes beside the loader (liminal_deployment.json)."""
    return deployment_facts_json(
        {"myorg/mydatascienceapp": ECR_IMAGE},
        {"gettingstartedvol-pvc": "liminal-model-store"},
        "liminal",
        REGION,
        CLUSTER,
    )


@pytest.fixture(scope="module", params=sorted(VERSIONS), ids=lambda v: f"airflow-{v}")
def stack_bag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    version = request.param
    iris = copy_project(REPO / "examples" / "iris", tmp_path_factory.mktemp("p") / "iris")
    folder = make_dags_folder(tmp_path_factory.mktemp("dags"), [iris], stack_facts(), version)
    return probe(VERSIONS[version], folder, tmp_path_factory.mktemp("airflow-home"))


def test_dags_processor_parses_only_the_loader_file(stack_bag: dict) -> None:
    assert stack_bag["parsed_files"] == ["liminal_dags.py"]
    assert stack_bag["import_errors"] == {}
    # the pipeline, and the drift check of the monitored service (liminal.yml `monitoring`)
    assert sorted(stack_bag["dags"]) == ["my_datascience_pipeline", "my_datascience_server_drift"]


def test_dags_without_airflowignore_the_bundled_modules_are_parsed_as_dag_files(
    tmp_path: Path,
) -> None:
    # The problem the .airflowignore solves, shown on Airflow 3 (safe mode: each module that
    # mentions "airflow" and "dag" is imported as a DAG file).
    iris = copy_project(REPO / "examples" / "iris", tmp_path / "iris")
    (tmp_path / "dags").mkdir()
    (tmp_path / "home").mkdir()
    folder = make_dags_folder(tmp_path / "dags", [iris], stack_facts())
    parsed = probe(AIRFLOW3_PYTHON, folder, tmp_path / "home")["parsed_files"]
    assert "liminal_dags.py" in parsed
    assert "liminal_pulumi/airflow/loader.py" in parsed


def test_dags_container_tasks_are_eks_pod_operators_of_the_amazon_provider(
    stack_bag: dict,
) -> None:
    tasks = {t["task_id"]: t for t in stack_bag["dags"]["my_datascience_pipeline"]["tasks"]}
    for task_id in ("train", "validate"):
        task = tasks[task_id]
        assert task["class"] == "EksPodOperator"
        assert task["module"] == "airflow.providers.amazon.aws.operators.eks"
        fields = task["fields"]
        assert (fields["cluster_name"], fields["region"]) == (CLUSTER, REGION)
        assert fields["aws_conn_id"] == "aws_default"  # MWAA's execution role
        assert fields["config_file"] is None and fields["in_cluster"] is False
        assert fields["namespace"] == "liminal"
        assert fields["image"] == ECR_IMAGE
        assert fields["volumes"] == {"vol-gettingstartedvol-pvc": "liminal-model-store"}
    drift = {t["task_id"]: t for t in stack_bag["dags"]["my_datascience_server_drift"]["tasks"]}
    assert drift["drift"]["class"] == "EksPodOperator"
    assert drift["drift"]["fields"]["cluster_name"] == CLUSTER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def eks_api():
    """A moto server on loopback holding the cluster (EKS DescribeCluster answers from it)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    eks = boto3.client(
        "eks",
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cluster = eks.create_cluster(
        name=CLUSTER,
        roleArn="arn:aws:iam::123456789012:role/liminal-dev-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
    )["cluster"]
    yield env, cluster["endpoint"].rstrip("/")
    server.stop()


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_dags_eks_pod_operator_gets_its_token_without_the_aws_cli(
    version: str, eks_api: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, endpoint = eks_api
    python = VERSIONS[version]
    # The worker's PATH without any AWS CLI: the venv's Python (python3.11, which the
    # generated kubeconfig runs) and the system's sh.
    path = os.pathsep.join([str(python.parent), "/usr/bin", "/bin"])
    assert shutil.which("aws", path=path) is None
    done = subprocess.run(
        [str(python), str(AUTH_PROBE), CLUSTER, REGION, "liminal"],
        env={
            **env,
            "PATH": path,
            "HOME": str(tmp_path),
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # MWAA defines aws_default as the execution role; here, the environment's keys
            "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    import json

    out = json.loads(lines[-1][len("PROBE") :])
    assert out["airflow"] == version
    assert out["is_pod_operator"] is True
    assert out["aws_cli_on_path"] is False
    assert out["host"] == endpoint  # from DescribeCluster, not from a file in the bucket
    assert out["token_prefix"] == "k8s-aws-v1."  # the EKS token format (aws-iam-authenticator)
    assert out["sts_action"] == "GetCallerIdentity"
    assert out["signed_headers"] == "host;x-k8s-aws-id"  # bound to this cluster's name
    assert out["kubeconfig_mentions_aws_cli"] is False
