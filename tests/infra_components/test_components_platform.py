"""LiminalPlatform as a library user composes it: its own args, several platforms in one stack,
an existing VPC and an existing cluster, aliases to the children's former names."""

from __future__ import annotations

import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from liminal_pulumi.components import (
    ComponentArgumentError,
    LiminalPlatform,
    PlatformArgs,
)
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import Project
from liminal_pulumi.testing import MockCloud, Registration, resolve, run

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO_ROOT / "examples/iris")


@pytest.fixture(scope="module")
def shared(
    pulumi_mocks: MockCloud, project: Project, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`pfalpha` creates its VPC and cluster; `pfbeta` runs in alpha's VPC on alpha's cluster."""
    build = tmp_path_factory.mktemp("build")
    aliases: dict[str, list[Any]] = {}

    def capture(args: pulumi.ResourceTransformationArgs) -> None:
        aliases[args.name] = list(args.opts.aliases or [])
        return None

    def program() -> dict[str, Any]:
        alpha = LiminalPlatform(
            "pfalpha",
            PlatformArgs(
                project=project, environment="alpha-env", region="eu-west-1", build_dir=build
            ),
            opts=pulumi.ResourceOptions(transformations=[capture]),
        )
        beta = LiminalPlatform(
            "pfbeta",
            PlatformArgs(
                project=project,
                environment="beta-env",
                region="eu-west-1",
                network=alpha.network,
                cluster=alpha.cluster,
                namespace="beta",
                service_exposure="internal_load_balancer",
                build_dir=build,
                legacy_aliases=False,
            ),
            opts=pulumi.ResourceOptions(transformations=[capture]),
        )
        return {"alpha": alpha, "beta": beta}

    return {**run(program), "aliases": aliases}


def under(mocks: MockCloud, platform: str, type_token: str | None = None) -> list[Registration]:
    """Everything a platform registered (itself included), by URN parent chain."""
    found = [
        r for r in mocks.registrations() if r.name == platform or r.name.startswith(f"{platform}-")
    ]
    return [r for r in found if type_token is None or r.type == type_token]


def test_two_platforms_share_a_stack_without_duplicate_urns(pulumi_mocks, shared):
    urns = [r.urn for r in under(pulumi_mocks, "pfalpha") + under(pulumi_mocks, "pfbeta")]
    duplicates = [urn for urn, count in Counter(urns).items() if count > 1]
    assert urns and duplicates == []


def test_children_are_named_after_the_platform(pulumi_mocks, shared):
    children = {r.name for r in pulumi_mocks.registrations() if r.type.startswith("liminal:aws:")}
    assert {"pfalpha-network", "pfalpha-cluster", "pfalpha-airflow", "pfbeta-airflow"} <= children


def test_aws_names_derive_from_each_environment(pulumi_mocks, shared):
    environments = {
        r.inputs["name"] for r in under(pulumi_mocks, "pfalpha", "aws:mwaa/environment:Environment")
    } | {
        r.inputs["name"] for r in under(pulumi_mocks, "pfbeta", "aws:mwaa/environment:Environment")
    }
    assert environments == {"alpha-env", "beta-env"}
    repositories = [
        r.inputs["name"]
        for platform in ("pfalpha", "pfbeta")
        for r in under(pulumi_mocks, platform, "aws:ecr/repository:Repository")
    ]
    assert repositories == ["alpha-env/myorg/mydatascienceapp", "beta-env/myorg/mydatascienceapp"]
    prefixes = {
        r.inputs["bucketPrefix"]
        for platform in ("pfalpha", "pfbeta")
        for r in under(pulumi_mocks, platform, "aws:s3/bucket:Bucket")
    }
    assert prefixes == {"airflow-alpha-env-", "airflow-beta-env-"}
    (eks,) = under(pulumi_mocks, "pfalpha", "eks:index:Cluster")
    assert eks.inputs["name"] == "alpha-env"
    assert resolve(shared["alpha"].cluster_name) == "alpha-env"
    assert shared["alpha"].environment == "alpha-env"


def test_an_existing_network_and_cluster_are_used_not_created(pulumi_mocks, shared):
    types = {r.type for r in under(pulumi_mocks, "pfbeta")}
    assert not types & {
        "liminal:aws:Network",
        "liminal:aws:Cluster",
        "aws:ec2/vpc:Vpc",
        "eks:index:Cluster",
    }
    (alpha_vpc,) = under(pulumi_mocks, "pfalpha", "aws:ec2/vpc:Vpc")
    (beta_group,) = [
        r
        for r in under(pulumi_mocks, "pfbeta", "aws:ec2/securityGroup:SecurityGroup")
        if "model-store" in r.name
    ]
    assert beta_group.inputs["vpcId"] == alpha_vpc.id
    entries = under(pulumi_mocks, "pfbeta", "aws:eks/accessEntry:AccessEntry")
    # MWAA's and the metrics scraper's, both on the shared cluster
    assert len(entries) == 2
    assert {entry.inputs["clusterName"] for entry in entries} == {"alpha-env"}
    (alpha_eks,) = under(pulumi_mocks, "pfalpha", "eks:index:Cluster")
    nfs_rules = [
        r
        for r in under(
            pulumi_mocks, "pfbeta", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        )
        if r.inputs.get("fromPort") == 2049
    ]
    assert [r.inputs["referencedSecurityGroupId"] for r in nfs_rules] == [
        alpha_eks.state["nodeSecurityGroupId"]
    ]


def test_on_an_existing_cluster_the_platform_makes_its_namespace_with_that_clusters_provider(
    pulumi_mocks, shared
):
    (namespace,) = under(pulumi_mocks, "pfbeta", "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "beta"
    assert (
        namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    )
    (provider,) = under(pulumi_mocks, "pfalpha", "pulumi:providers:kubernetes")
    kubernetes = [r for r in under(pulumi_mocks, "pfbeta") if r.type.startswith("kubernetes:")]
    assert len(kubernetes) > 5
    assert {r.provider.rsplit("::", 1)[0] for r in kubernetes} == {provider.urn}
    (storage_class,) = under(pulumi_mocks, "pfbeta", "kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class.inputs["metadata"]["name"] == "beta-efs"
    (claim,) = under(pulumi_mocks, "pfbeta", "kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["metadata"]["namespace"] == "beta"


def test_children_are_aliased_to_their_former_names_unless_asked_not_to(shared):
    aliases = shared["aliases"]
    for part in ("network", "cluster", "model-store", "registry", "airflow", "services"):
        (alias,) = aliases[f"pfalpha-{part}"]
        assert isinstance(alias, pulumi.Alias) and alias.name == part
    for part in ("model-store", "registry", "airflow", "services"):
        assert aliases[f"pfbeta-{part}"] == []
    # grandchildren keep names prefixed by their parent's, so they inherit the alias (the
    # engine rewrites `pfalpha-network-vpc` to `network-vpc` under the aliased parent)
    assert "pfalpha-network-vpc" in aliases


def test_every_problem_with_the_platform_args_is_reported_before_anything(
    pulumi_mocks: MockCloud, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ComponentArgumentError) as caught:
        run(
            lambda: LiminalPlatform(
                "pfbad",
                PlatformArgs(
                    project=project,
                    environment="9-lives",
                    nat_strategy="both",
                    service_exposure="nodeport",
                    namespace="Team_A",
                    mwaa_min_workers=0,
                    endpoint_public_access=True,
                ),
            )
        )
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "environment",
        "region",
        "nat_strategy",
        "public_access_cidrs",
        "namespace",
        "mwaa_min_workers/mwaa_max_workers",
        "service_exposure",
    ]
    assert "LiminalPlatform 'pfbad'" in str(caught.value)
    assert under(pulumi_mocks, "pfbad") == []


def test_the_readme_program_on_a_shared_cluster(
    pulumi_mocks: MockCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/packaging/programs/platform_existing_cluster, as the README shows it."""
    answer = pulumi_mocks.call

    def call(args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == "aws:eks/getCluster:getCluster":
            name = args.args["name"]
            return {
                "name": name,
                "arn": f"arn:aws:eks:eu-west-1:123456789012:cluster/{name}",
                "endpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "Q0E="}],
                "vpcConfig": {"clusterSecurityGroupId": "sg-shared", "vpcId": "vpc-shared"},
                "id": name,
            }, []
        return answer(args)

    monkeypatch.setattr(pulumi_mocks, "call", call)
    program = REPO_ROOT / "tests/packaging/programs/platform_existing_cluster"
    pulumi.runtime.set_config("liminal:project", str(REPO_ROOT / "examples/iris"))
    run(lambda: runpy.run_path(str(program), run_name="__main__"))
    types = {r.type for r in under(pulumi_mocks, "fraud")}
    assert "eks:index:Cluster" not in types and "aws:ec2/vpc:Vpc" not in types
    entries = under(pulumi_mocks, "fraud", "aws:eks/accessEntry:AccessEntry")
    assert len(entries) == 2  # MWAA's and the metrics scraper's
    assert {entry.inputs["clusterName"] for entry in entries} == {"shared-eks"}
    (rule,) = [
        r
        for r in under(
            pulumi_mocks, "fraud", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        )
        if r.name.endswith("mwaa-to-cluster")
    ]
    assert rule.inputs["securityGroupId"] == "sg-shared"
    (namespace,) = under(pulumi_mocks, "fraud", "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "fraud"
    (provider,) = [r for r in pulumi_mocks.registrations() if r.name == "shared-eks"]
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://ABC.gr7.")
    assert "shared-eks" in kubeconfig["users"][0]["user"]["exec"]["args"]


def test_a_grandchild_inherits_an_alias_to_the_urn_it_had_before(pulumi_mocks) -> None:
    """The engine and SDKs derive a child's alias from its parent's when the child's name starts
    with the parent's (Pulumi's inherited child aliases): `liminal-network-vpc` under the child
    aliased to `network` is aliased to the URN `network-vpc` had in liminal-pulumi 0.1 (engine
    URNs: the type chain of the parents, without the root stack)."""
    from pulumi.runtime.resource import create_urn, inherited_child_alias

    platform = "urn:pulumi:dev::liminal::liminal:index:LiminalPlatform::liminal"
    old_network = create_urn("network", "liminal:aws:Network", platform)
    alias = inherited_child_alias(
        "liminal-network-vpc", "liminal-network", old_network, "aws:ec2/vpc:Vpc"
    )
    assert resolve(alias) == (
        "urn:pulumi:dev::liminal::liminal:index:LiminalPlatform"
        "$liminal:aws:Network$aws:ec2/vpc:Vpc::network-vpc"
    )
