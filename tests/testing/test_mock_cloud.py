"""The shipped mock cloud (`liminal_pulumi.testing`): AWS-shaped outputs, the engine's duplicate
URN check, recorded registrations (options, secrets, whole numbers), stack references."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from liminal_pulumi.testing import (
    ACCOUNT_ID,
    DuplicateUrnError,
    MockCloud,
    is_secret,
    is_wire_secret,
    resolve,
    run,
    whole_numbers,
)

HEX17 = "0[0-9a-f]{16}"


def test_ec2_and_efs_ids_look_like_aws_ids() -> None:
    cloud = MockCloud(region="eu-west-1")
    for type_, prefix in (
        ("aws:ec2/vpc:Vpc", "vpc"),
        ("aws:ec2/subnet:Subnet", "subnet"),
        ("aws:ec2/securityGroup:SecurityGroup", "sg"),
        ("aws:ec2/natGateway:NatGateway", "nat"),
        ("aws:efs/fileSystem:FileSystem", "fs"),
        ("aws:efs/accessPoint:AccessPoint", "fsap"),
    ):
        resource_id, _ = cloud.outputs_for(type_, "x", {}, f"urn::{type_}::x")
        assert re.fullmatch(f"{prefix}-{HEX17}", resource_id), resource_id
    vpc_id, vpc = cloud.outputs_for("aws:ec2/vpc:Vpc", "net", {}, "urn:a")
    assert vpc["arn"] == f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:vpc/{vpc_id}"
    assert re.fullmatch(f"sg-{HEX17}", vpc["defaultSecurityGroupId"])
    fs_id, fs = cloud.outputs_for("aws:efs/fileSystem:FileSystem", "store", {}, "urn:b")
    assert fs["arn"] == f"arn:aws:elasticfilesystem:eu-west-1:{ACCOUNT_ID}:file-system/{fs_id}"


def test_ids_are_stable_per_urn_and_differ_between_urns() -> None:
    first, second = MockCloud(), MockCloud()
    a, _ = first.outputs_for("aws:ec2/vpc:Vpc", "net", {}, "urn:one")
    assert second.outputs_for("aws:ec2/vpc:Vpc", "net", {}, "urn:one")[0] == a
    assert first.outputs_for("aws:ec2/vpc:Vpc", "net", {}, "urn:two")[0] != a


def test_arns_follow_each_services_layout() -> None:
    cloud = MockCloud(region="us-west-2", account_id="111122223333")
    bucket_id, bucket = cloud.outputs_for("aws:s3/bucket:Bucket", "logs", {}, "urn:s3")
    assert re.fullmatch("logs-[0-9a-f]{7}", bucket_id)  # auto-named as Pulumi does
    assert bucket["arn"] == f"arn:aws:s3:::{bucket_id}"
    assert bucket["bucketRegionalDomainName"] == f"{bucket_id}.s3.us-west-2.amazonaws.com"
    _, role = cloud.outputs_for("aws:iam/role:Role", "r", {"name": "app", "path": "/svc/"}, "u")
    assert role["arn"] == "arn:aws:iam::111122223333:role/svc/app"
    key_id, key = cloud.outputs_for("aws:kms/key:Key", "k", {}, "urn:kms")
    assert str(uuid.UUID(key_id)) == key_id
    assert key["arn"] == f"arn:aws:kms:us-west-2:111122223333:key/{key_id}"
    _, group = cloud.outputs_for("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/a/b"}, "u")
    assert group["arn"] == "arn:aws:logs:us-west-2:111122223333:log-group:/a/b"
    _, environment = cloud.outputs_for(
        "aws:mwaa/environment:Environment", "e", {"name": "flows"}, "u"
    )
    assert environment["arn"] == "arn:aws:airflow:us-west-2:111122223333:environment/flows"
    assert environment["webserverUrl"].endswith(".c2.us-west-2.airflow.amazonaws.com")


def test_ecr_urls_and_eks_endpoints() -> None:
    cloud = MockCloud(region="eu-central-1")
    _, repository = cloud.outputs_for(
        "aws:ecr/repository:Repository", "r", {"name": "team/app"}, "u"
    )
    assert repository["repositoryUrl"] == (
        f"{ACCOUNT_ID}.dkr.ecr.eu-central-1.amazonaws.com/team/app"
    )
    assert repository["arn"] == f"arn:aws:ecr:eu-central-1:{ACCOUNT_ID}:repository/team/app"
    name, cluster = cloud.outputs_for("eks:index:Cluster", "c", {"name": "main"}, "urn:eks")
    assert name == "main"
    assert re.fullmatch(
        r"https://[0-9A-F]{32}\.gr7\.eu-central-1\.eks\.amazonaws\.com", cluster["endpoint"]
    )
    assert cluster["oidcProviderUrl"] == f"https://{cluster['oidcIssuer']}"
    assert cluster["oidcProviderArn"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{cluster['oidcIssuer']}"
    )
    assert cluster["kubeconfig"]["clusters"][0]["cluster"]["server"] == cluster["endpoint"]


def test_kubernetes_load_balancers_get_a_hostname_cluster_ips_do_not() -> None:
    cloud = MockCloud()
    spec = {"type": "LoadBalancer", "ports": [{"port": 80}]}
    metadata = {"namespace": "apps"}
    lb_id, lb = cloud.outputs_for(
        "kubernetes:core/v1:Service", "web", {"metadata": metadata, "spec": spec}, "u1"
    )
    assert lb_id.startswith("apps/web-")
    assert lb["status"]["loadBalancer"]["ingress"][0]["hostname"].endswith(
        ".elb.us-east-1.amazonaws.com"
    )
    _, internal = cloud.outputs_for(
        "kubernetes:core/v1:Service", "api", {"spec": {"type": "ClusterIP"}}, "u2"
    )
    assert "status" not in internal and internal["spec"]["clusterIP"].startswith("172.20.")


def test_whole_numbers_come_back_as_ints() -> None:
    assert whole_numbers({"a": 30.0, "b": [2.0, 0.5], "c": True, "d": "1.0"}) == {
        "a": 30,
        "b": [2, 0.5],
        "c": True,
        "d": "1.0",
    }
    assert type(whole_numbers(30.0)) is int


def test_registrations_record_options_secrets_and_ints(pulumi_mocks: MockCloud) -> None:
    def program() -> aws.kms.Key:
        parent = pulumi.ComponentResource("test:index:Holder", "mc-holder")
        key = aws.kms.Key(
            "mc-key",
            deletion_window_in_days=7,
            description=pulumi.Output.secret("hidden"),
            opts=pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True),
        )
        aws.kms.Alias(
            "mc-alias",
            name="alias/mc",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return key

    key = run(program)
    (holder,) = pulumi_mocks.of_type("test:index:Holder", "mc-")
    registration = pulumi_mocks.named("mc-key")
    assert registration.parent == holder.urn and not holder.custom and registration.custom
    assert registration.protect and registration.retain_on_delete
    days = registration.inputs["deletionWindowInDays"]
    assert days == 7 and type(days) is int
    assert registration.inputs["description"] == "hidden"
    assert registration.secret_inputs == frozenset({"description"})
    assert is_wire_secret(registration.wire_inputs["description"])
    assert is_secret(key.description)
    alias = pulumi_mocks.named("mc-alias")
    assert alias.dependencies == (registration.urn,)
    assert alias.inputs["targetKeyId"] == resolve(key.key_id) == registration.state["keyId"]
    assert pulumi_mocks.registrations().index(registration) < (
        pulumi_mocks.registrations().index(alias)
    )


def test_a_duplicate_urn_is_refused_naming_it(pulumi_mocks: MockCloud) -> None:
    run(lambda: aws.ec2.Vpc("mc-dup", cidr_block="10.0.0.0/16"))
    with pytest.raises(DuplicateUrnError) as caught:
        run(lambda: aws.ec2.Vpc("mc-dup", cidr_block="10.1.0.0/16"))
    urn = caught.value.urn
    assert urn.endswith("aws:ec2/vpc:Vpc::mc-dup") and urn in str(caught.value)
    (vpc,) = pulumi_mocks.of_type("aws:ec2/vpc:Vpc", "mc-dup")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    # the same name under another type, or under a parent of another type, is another URN
    run(lambda: aws.ec2.Subnet("mc-dup", vpc_id="vpc-1", cidr_block="10.0.0.0/24"))


def test_stack_references_report_the_given_outputs(pulumi_mocks: MockCloud) -> None:
    pulumi_mocks.stack_outputs["org/proj/given"] = {"url": "https://given", "count": 3}
    pulumi_mocks.default_stack_outputs = lambda name: {"asked": name}
    try:
        given, other = run(
            lambda: (
                pulumi.StackReference("mc-ref-given", stack_name="org/proj/given"),
                pulumi.StackReference("mc-ref-other", stack_name="org/proj/other"),
            )
        )
        assert resolve(given.get_output("url")) == "https://given"
        assert resolve(other.get_output("asked")) == "org/proj/other"
    finally:
        del pulumi_mocks.stack_outputs["org/proj/given"]
        pulumi_mocks.default_stack_outputs = lambda _name: {}
    (reference,) = pulumi_mocks.of_type("pulumi:pulumi:StackReference", "mc-ref-given")
    assert reference.read and reference.id == "org/proj/given"


def test_data_sources_answer_for_the_mock_account_and_region(pulumi_mocks: MockCloud) -> None:
    identity, zones, vpc = run(
        lambda: (
            aws.get_caller_identity_output(),
            aws.get_availability_zones_output(),
            aws.ec2.get_vpc_output(id="vpc-0123456789abcdef0"),
        )
    )
    assert resolve(identity.account_id) == ACCOUNT_ID
    assert resolve(zones.names)[:2] == ["us-east-1a", "us-east-1b"]
    assert resolve(zones.zone_ids)[0] == "use1-az1"
    assert resolve(vpc.arn) == f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc/vpc-0123456789abcdef0"


def test_the_readme_example_runs_as_a_users_test_suite(tmp_path: Path) -> None:
    """The README's conftest.py and test file, run by pytest in a folder of their own."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**`liminal_pulumi.testing`**") :]
    example = section[section.index("```python\n") + len("```python\n") :]
    example = example[: example.index("```")]
    conftest, test = example.split("# tests/test_storage.py\n")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_storage.py").write_text(test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
