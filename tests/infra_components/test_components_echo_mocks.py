"""Every component evaluates under the plain echo mocks of Pulumi's testing guide.

`new_resource` returns the inputs as the state and `call` returns its arguments: no output is
shaped like AWS's (no ARN, no kubeconfig, no availability zone names), so a component that only
works with a cloud's answers fails here. The session's own mocks are put back after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest

from liminal_pulumi.components import (
    Airflow,
    AirflowArgs,
    Cluster,
    ClusterArgs,
    ClusterConnection,
    ExistingNetwork,
    LiminalPlatform,
    ModelStore,
    ModelStoreArgs,
    Monitoring,
    MonitoringArgs,
    Network,
    NetworkArgs,
    PlatformArgs,
    Registry,
    RegistryArgs,
    Services,
    ServicesArgs,
)
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import Mount, Service, Volume
from liminal_pulumi.plans import monitoring_plan
from liminal_pulumi.testing import MockCloud, install, resolve, run

REPO_ROOT = Path(__file__).resolve().parents[2]


class EchoMocks(pulumi.runtime.Mocks):
    """The mocks of Pulumi's unit-testing guide: inputs back as state, arguments back as result."""

    def __init__(self) -> None:
        self.resources: list[tuple[str, str]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append((args.typ, args.name))
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return dict(args.args), []


@pytest.fixture
def echo(pulumi_mocks: MockCloud) -> Iterator[EchoMocks]:
    mocks = EchoMocks()
    pulumi.runtime.set_mocks(mocks, project="liminal", stack="echo", preview=False)
    try:
        yield mocks
    finally:
        # the session's mocks, with their registrations, again
        install(pulumi_mocks, project="liminal", stack="test")


def _types(echo: EchoMocks, prefix: str) -> set[str]:
    return {typ for typ, name in echo.resources if name.startswith(prefix)}


def _connection(name: str) -> ClusterConnection:
    return ClusterConnection(
        name=name,
        arn=f"arn:aws:eks:eu-west-1:123456789012:cluster/{name}",
        endpoint="https://example.eks.amazonaws.com",
        certificate_authority="Q0E=",
        cluster_security_group_id="sg-cluster",
        node_security_group_id="sg-nodes",
        kubeconfig="{}",
        provider=k8s.Provider(f"{name}-k8s", kubeconfig="{}"),
        oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/oidc.eks/{name}",
        oidc_provider_url=f"https://oidc.eks/{name}",
    )


def test_network(echo: EchoMocks) -> None:
    network = run(lambda: Network("echo-net", NetworkArgs(nat_strategy="per_az")))
    assert [resolve(i) for i in network.private_subnet_ids] == [
        "echo-net-private-0_id",
        "echo-net-private-1_id",
    ]
    assert {"aws:ec2/vpc:Vpc", "aws:ec2/natGateway:NatGateway", "aws:ec2/flowLog:FlowLog"} <= (
        _types(echo, "echo-net-")
    )


def test_cluster(echo: EchoMocks) -> None:
    cluster = run(
        lambda: Cluster(
            "echo-cl",
            ClusterArgs(vpc_id="vpc-1", private_subnet_ids=["a", "b"], public_subnet_ids=[]),
        )
    )
    assert resolve(cluster.connection.name) == "echo-cl"
    assert {"eks:index:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon"} <= (
        _types(echo, "echo-cl-")
    )


def test_model_store(echo: EchoMocks) -> None:
    def program() -> ModelStore:
        return ModelStore(
            "echo-ms",
            ModelStoreArgs(
                vpc_id="vpc-1",
                private_subnet_ids=["a", "b"],
                volumes=(Volume(volume="models"),),
                cluster=_connection("echo-ms-cluster"),
            ),
        )

    store = run(program)
    assert store.claim_names == {"models": "models"}
    assert resolve(store.storage_class_name) == "liminal-efs"
    assert "kubernetes:core/v1:PersistentVolumeClaim" in _types(echo, "echo-ms-")


def test_registry(echo: EchoMocks, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    registry = run(
        lambda: Registry(
            "echo-reg", RegistryArgs(images=("org/app",), build_contexts={"org/app": tmp_path})
        )
    )
    assert resolve(registry.image_refs["org/app"])
    assert "docker-build:index:Image" in _types(echo, "echo-reg-")


def test_airflow(echo: EchoMocks) -> None:
    def program() -> Airflow:
        return Airflow(
            "echo-af",
            AirflowArgs(
                environment_name="echo-af",
                vpc_id="vpc-1",
                private_subnet_ids=["a", "b"],
                cluster=_connection("echo-af-cluster"),
                region="eu-west-1",
                dag_files={"liminal_dags.py": b"print('loader')\n"},
            ),
        )

    airflow = run(program)
    assert resolve(airflow.environment_arn) is None  # an echo has no ARN, and nothing needs one
    assert {"aws:mwaa/environment:Environment", "aws:eks/accessEntry:AccessEntry"} <= (
        _types(echo, "echo-af-")
    )


def test_services(echo: EchoMocks) -> None:
    service = Service(
        service="srv", image="org/app", mounts=(Mount(volume="models", path="/mnt/models"),)
    )

    def program() -> Services:
        return Services(
            "echo-svc",
            ServicesArgs(
                services=(service,),
                image_refs={"org/app": "repo/org/app:1"},
                claims={"models": "models"},
                namespace="liminal",
                exposure="public_load_balancer",
                cluster=_connection("echo-svc-cluster"),
            ),
        )

    services = run(program)
    assert resolve(services.endpoints["srv"]).startswith("http://srv.liminal.svc")
    assert "kubernetes:apps/v1:Deployment" in _types(echo, "echo-svc-")


def test_monitoring(echo: EchoMocks) -> None:
    services = monitoring_plan.monitored_services(load_project(REPO_ROOT / "examples/iris"))

    def program() -> Monitoring:
        return Monitoring(
            "echo-mon",
            MonitoringArgs(
                services=services,
                environment_name="liminal-echo",
                cluster=_connection("echo-mon-cluster"),
                subnet_ids=["a", "b"],
            ),
        )

    monitoring = run(program)
    assert set(monitoring.dashboard_urls) == {"my_datascience_server"}
    assert {"aws:amp/scraper:Scraper", "aws:sns/topic:Topic"} <= _types(echo, "echo-mon-")


def test_platform(echo: EchoMocks, tmp_path: Path) -> None:
    project = load_project(REPO_ROOT / "examples/iris")

    def program() -> LiminalPlatform:
        return LiminalPlatform(
            "echo-pf",
            PlatformArgs(
                project=project,
                region="eu-west-1",
                network=ExistingNetwork(vpc_id="vpc-1", private_subnet_ids=("a", "b")),
                build_dir=tmp_path,
            ),
        )

    platform = run(program)
    assert resolve(platform.cluster_name) == "liminal-echo"
    assert "liminal:aws:Network" not in _types(echo, "echo-pf")
    assert {"liminal:aws:Cluster", "liminal:aws:Services", "aws:mwaa/environment:Environment"} <= (
        _types(echo, "echo-pf-")
    )
