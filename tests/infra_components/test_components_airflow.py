import base64
import itertools
import json

import pulumi
import pulumi_kubernetes as k8s
import pytest

from liminal_pulumi.airflow.deployment import FACTS_FILE_NAME, DeploymentFacts
from liminal_pulumi.components.airflow import Airflow, AirflowArgs
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.plans.checks import ComponentArgumentError
from liminal_pulumi.plans.mwaa_requirements import requirements_txt
from liminal_pulumi.testing import depends_on_transitively, resolve, run

FACTS = DeploymentFacts(
    claims={"gettingstartedvol-pvc": "gettingstartedvol-pvc"},
    cluster_name="afcluster",
    region="eu-west-1",
).to_json()
LOADER = "print('the loader')\n"
BINARY = bytes(range(256))


@pytest.fixture(scope="module")
def platform(pulumi_mocks, tmp_path_factory):
    loader = tmp_path_factory.mktemp("bundle") / "liminal_dags.py"
    loader.write_text(LOADER)

    def program():
        network = Network("afnet", NetworkArgs(cidr="10.5.0.0/16"))
        cluster = Cluster(
            "afcluster",
            ClusterArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
                namespace="liminal",
            ),
        )

        def airflow(name, protect, version="3.0.6"):
            return Airflow(
                name,
                AirflowArgs(
                    environment_name=f"{name}-env",
                    vpc_id=network.vpc_id,
                    private_subnet_ids=network.private_subnet_ids[:2],
                    cluster=cluster.connection,
                    region="eu-west-1",
                    namespace="liminal",
                    airflow_version=version,
                    dag_files={
                        "liminal_dags.py": loader,
                        "liminal_pulumi/__init__.py": pulumi.StringAsset("VERSION = 1\n"),
                        "liminal/iris/liminal.yml": b"name: iris\n",
                        "liminal/iris/blob.bin": BINARY,
                    },
                    deployment_facts=FACTS,
                    protect=protect,
                ),
            )

        return {
            "network": network,
            "cluster": cluster,
            "dev": airflow("afdev", protect=False),
            "prod": airflow("afprod", protect=True, version="2.11.0"),
        }

    return run(program)


def one(pulumi_mocks, type_token, prefix):
    (registration,) = pulumi_mocks.of_type(type_token, prefix)
    return registration


def objects(pulumi_mocks, prefix):
    return {
        o.inputs["key"]: o
        for o in pulumi_mocks.of_type("aws:s3/bucketObjectv2:BucketObjectv2", prefix)
    }


def environment(pulumi_mocks, prefix="afdev"):
    return one(pulumi_mocks, "aws:mwaa/environment:Environment", prefix)


def test_bucket_is_versioned_encrypted_private_owner_enforced_and_tls_only(pulumi_mocks, platform):
    bucket = one(pulumi_mocks, "aws:s3/bucket:Bucket", "afdev")
    assert bucket.id.startswith("airflow-")
    key = one(pulumi_mocks, "aws:kms/key:Key", "afdev")
    versioning = one(pulumi_mocks, "aws:s3/bucketVersioning:BucketVersioning", "afdev")
    assert versioning.inputs["bucket"] == bucket.id
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = one(
        pulumi_mocks,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "afdev",
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.state["arn"],
    }
    block = one(pulumi_mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "afdev")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag
    ownership = one(pulumi_mocks, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "afdev")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = one(pulumi_mocks, "aws:s3/bucketPolicy:BucketPolicy", "afdev")
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket.state["arn"], f"{bucket.state['arn']}/*"]
    assert resolve(platform["dev"].bucket_name) == bucket.id


def test_requirements_version_is_what_the_environment_installs(pulumi_mocks, platform):
    for prefix, version in (("afdev", "3.0.6"), ("afprod", "2.11.0")):
        requirements = objects(pulumi_mocks, prefix)["requirements.txt"]
        assert requirements.inputs["content"] == requirements_txt(version)
        env = environment(pulumi_mocks, prefix)
        assert env.inputs["requirementsS3Path"] == "requirements.txt"
        assert env.inputs["requirementsS3ObjectVersion"] == requirements.state["versionId"]
        versioning = one(pulumi_mocks, "aws:s3/bucketVersioning:BucketVersioning", prefix)
        assert versioning.urn in requirements.dependencies
    dev, prod = (
        environment(pulumi_mocks, p).inputs["requirementsS3ObjectVersion"]
        for p in ("afdev", "afprod")
    )
    assert dev != prod


def test_dags_folder_holds_the_loader_its_imports_the_project_and_the_facts(pulumi_mocks, platform):
    uploaded = objects(pulumi_mocks, "afdev")
    bucket = one(pulumi_mocks, "aws:s3/bucket:Bucket", "afdev")
    assert all(o.inputs["bucket"] == bucket.id for o in uploaded.values())
    assert set(uploaded) == {
        "requirements.txt",
        "dags/liminal_dags.py",
        "dags/liminal_pulumi/__init__.py",
        "dags/liminal/iris/liminal.yml",
        "dags/liminal/iris/blob.bin",
        f"dags/{FACTS_FILE_NAME}",
        "dags/.airflowignore",
    }
    loader = uploaded["dags/liminal_dags.py"].inputs["source"]
    assert isinstance(loader, pulumi.FileAsset)
    with open(loader.path) as file:
        assert file.read() == LOADER
    assert uploaded["dags/liminal_pulumi/__init__.py"].inputs["source"].text == "VERSION = 1\n"
    assert uploaded["dags/liminal/iris/liminal.yml"].inputs["content"] == "name: iris\n"
    binary = uploaded["dags/liminal/iris/blob.bin"].inputs["contentBase64"]
    assert base64.b64decode(binary) == BINARY
    facts = uploaded[f"dags/{FACTS_FILE_NAME}"].inputs["content"]
    assert DeploymentFacts.model_validate_json(facts).cluster_name == "afcluster"


def test_no_kubeconfig_is_uploaded_the_pod_operator_builds_its_own(pulumi_mocks, platform):
    for prefix in ("afdev", "afprod"):
        keys = set(objects(pulumi_mocks, prefix))
        assert not any("kube" in key for key in keys), keys


@pytest.mark.parametrize(
    ("prefix", "content"),
    [
        ("afprod", "^liminal_pulumi(/|$)\n^liminal(/|$)\n"),  # Airflow 2.11: regexp by default
        ("afdev", "/liminal_pulumi/\n/liminal/\n"),  # Airflow 3.0: glob by default
    ],
)
def test_airflowignore_skips_the_bundled_package_in_the_versions_syntax(
    pulumi_mocks, platform, prefix, content
):
    ignore = objects(pulumi_mocks, prefix)["dags/.airflowignore"]
    assert ignore.inputs["content"] == content
    versioning = one(pulumi_mocks, "aws:s3/bucketVersioning:BucketVersioning", prefix)
    assert versioning.urn in ignore.dependencies


def test_environment_settings(pulumi_mocks, platform):
    env = environment(pulumi_mocks)
    inputs = env.inputs
    bucket = one(pulumi_mocks, "aws:s3/bucket:Bucket", "afdev")
    key = one(pulumi_mocks, "aws:kms/key:Key", "afdev")
    assert inputs["name"] == "afdev-env"
    assert inputs["airflowVersion"] == "3.0.6"
    assert inputs["webserverAccessMode"] == "PRIVATE_ONLY"
    assert inputs["sourceBucketArn"] == bucket.state["arn"]
    assert inputs["dagS3Path"] == "dags"
    assert inputs["kmsKey"] == key.state["arn"]
    # Only the loader's option: no kubernetes_executor.* (MWAA runs Celery; the pod operators
    # pass their own cluster, namespace and credentials).
    assert inputs["airflowConfigurationOptions"] == {
        "core.liminal_home": "/usr/local/airflow/dags/liminal"
    }
    logging = inputs["loggingConfiguration"]
    assert set(logging) == {
        "dagProcessingLogs",
        "schedulerLogs",
        "taskLogs",
        "webserverLogs",
        "workerLogs",
    }
    assert all(log["enabled"] is True for log in logging.values())
    assert resolve(platform["dev"].webserver_url) == env.state["webserverUrl"]
    assert resolve(platform["dev"].environment_arn) == env.state["arn"]


def test_environment_runs_in_two_private_subnets_behind_a_self_referencing_group(
    pulumi_mocks, platform
):
    network = inputs = environment(pulumi_mocks).inputs["networkConfiguration"]
    assert network["subnetIds"] == resolve(platform["network"].private_subnet_ids)[:2]
    group = one(pulumi_mocks, "aws:ec2/securityGroup:SecurityGroup", "afdev")
    assert inputs["securityGroupIds"] == [group.id]
    rules = [
        r
        for r in pulumi_mocks.under("afdev")
        if r.type.startswith("aws:vpc/securityGroup") and r.inputs["securityGroupId"] == group.id
    ]
    ingress = [r for r in rules if "Ingress" in r.type]
    assert [r.inputs.get("referencedSecurityGroupId") for r in ingress] == [group.id]
    assert any("Egress" in r.type for r in rules)


def test_cluster_security_group_admits_https_from_mwaa(pulumi_mocks, platform):
    group = one(pulumi_mocks, "aws:ec2/securityGroup:SecurityGroup", "afdev")
    cluster_group = resolve(platform["cluster"].cluster_security_group_id)
    (rule,) = [
        r
        for r in pulumi_mocks.of_type(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "afdev"
        )
        if r.inputs["securityGroupId"] == cluster_group
    ]
    assert rule.inputs["referencedSecurityGroupId"] == group.id
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )


def test_execution_role_is_trusted_by_mwaa_and_scoped_to_this_environment(pulumi_mocks, platform):
    role = one(pulumi_mocks, "aws:iam/role:Role", "afdev")
    assert role.inputs["path"] == "/"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert set(trust["Statement"][0]["Principal"]["Service"]) == {
        "airflow.amazonaws.com",
        "airflow-env.amazonaws.com",
    }
    assert environment(pulumi_mocks).inputs["executionRoleArn"] == role.state["arn"]
    policies = [
        json.loads(p.inputs["policy"])
        for p in pulumi_mocks.of_type("aws:iam/rolePolicy:RolePolicy", "afdev")
        if p.inputs["role"] == role.id
    ]
    statements = [s for p in policies for s in p["Statement"]]
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert actions and not any("*" in a for a in actions)
    bucket_arn = one(pulumi_mocks, "aws:s3/bucket:Bucket", "afdev").state["arn"]
    (read,) = [s for s in statements if "s3:GetObject" in s["Action"]]
    assert read["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    (describe,) = [s for s in statements if s["Action"] == "eks:DescribeCluster"]
    assert describe["Resource"] == resolve(platform["cluster"].cluster_arn)
    (metrics,) = [s for s in statements if s["Action"] == "airflow:PublishMetrics"]
    assert metrics["Resource"].endswith(":environment/afdev-env")
    assert ":eu-west-1:" in metrics["Resource"]


def test_access_entry_gives_the_role_edit_rights_in_the_namespace_only(pulumi_mocks, platform):
    role = one(pulumi_mocks, "aws:iam/role:Role", "afdev")
    entry = one(pulumi_mocks, "aws:eks/accessEntry:AccessEntry", "afdev")
    assert entry.inputs["principalArn"] == role.state["arn"]
    assert entry.inputs["clusterName"] == "afcluster"
    association = one(
        pulumi_mocks, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "afdev"
    )
    assert association.inputs["principalArn"] == role.state["arn"]
    assert association.inputs["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    )
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": ["liminal"]}


def test_only_what_needs_the_cluster_waits_for_it(pulumi_mocks, platform):
    cluster = one(pulumi_mocks, "eks:index:Cluster", "afcluster")

    def waits_for_cluster(registration):
        return cluster.urn in depends_on_transitively(pulumi_mocks, registration)

    assert not waits_for_cluster(environment(pulumi_mocks))
    for prefix_type in (
        "aws:s3/bucket:Bucket",
        "aws:iam/role:Role",
        "aws:ec2/securityGroup:SecurityGroup",
    ):
        assert not waits_for_cluster(one(pulumi_mocks, prefix_type, "afdev"))
    assert waits_for_cluster(one(pulumi_mocks, "aws:eks/accessEntry:AccessEntry", "afdev"))


def test_stateful_resources_are_protected_only_in_protected_stacks(pulumi_mocks, platform):
    for prefix, expected in (("afdev", False), ("afprod", True)):
        for type_token in ("aws:s3/bucket:Bucket", "aws:kms/key:Key"):
            resource = one(pulumi_mocks, type_token, prefix)
            assert resource.protect is expected, resource.name
            assert resource.retain_on_delete is expected, resource.name
    assert not environment(pulumi_mocks, "afdev").protect


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"private_subnet_ids": ["a", "b", "c"]}, "private_subnet_ids: .*exactly 2"),
        ({"webserver_access_mode": "OPEN"}, "webserver_access_mode: 'OPEN' is not allowed"),
        ({"min_workers": 3, "max_workers": 2}, "min_workers/max_workers: .*min \\(3\\)"),
        ({"airflow_version": "1.10.12"}, "airflow_version: '1.10.12' is not allowed"),
        ({"environment_class": "mw1.huge"}, "environment_class: 'mw1.huge' is not allowed"),
        ({"dag_files": {"../escape.py": b""}}, "dag_files: .*relative to the dags folder"),
        ({"environment_name": "bad_name!"}, "environment_name: 'bad_name!' must start"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(pulumi_mocks, change, message):
    with pytest.raises(ComponentArgumentError, match=message):
        run(lambda: Airflow("afbad", AirflowArgs(**_bad_settings(change))))
    assert pulumi_mocks.under("afbad-") == []


_PROVIDERS = itertools.count()


def _bad_settings(change):
    def program():
        provider = k8s.Provider(f"k8s-for-bad-airflow-{next(_PROVIDERS)}", kubeconfig="{}")
        return {
            "environment_name": "afbad",
            "vpc_id": "vpc-1",
            "private_subnet_ids": ["a", "b"],
            "cluster": ClusterConnection(
                name="c",
                arn="arn:aws:eks:eu-west-1:1:cluster/c",
                endpoint="https://c",
                certificate_authority="Q0E=",
                cluster_security_group_id="sg-1",
                node_security_group_id="sg-2",
                kubeconfig="{}",
                provider=provider,
            ),
            "region": "eu-west-1",
            **change,
        }

    return run(program)


def test_every_problem_is_reported_at_once(pulumi_mocks):
    change = {"webserver_access_mode": "OPEN", "environment_class": "mw1.huge", "min_workers": 0}
    with pytest.raises(ComponentArgumentError) as caught:
        run(lambda: Airflow("afmany", AirflowArgs(**_bad_settings(change))))
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "webserver_access_mode",
        "environment_class",
        "min_workers/max_workers",
    ]
    assert "Airflow 'afmany'" in str(caught.value)
    assert pulumi_mocks.under("afmany-") == []
