import json

import pulumi
import pytest

from liminal_pulumi import defaults
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.model_store import ModelStore, ModelStoreArgs
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.dsl.model import Volume
from liminal_pulumi.testing import resolve, run

VOLUMES = (
    Volume(volume="gettingstartedvol-pvc", claim_name="gettingstartedvol-pvc"),
    Volume(volume="features"),
)


@pytest.fixture(scope="module")
def stores(pulumi_mocks):
    def program():
        network = Network("msnet", NetworkArgs(cidr="10.4.0.0/16", az_count=3))
        cluster = Cluster(
            "mscluster",
            ClusterArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
            ),
        )

        def store(name, protect):
            return ModelStore(
                name,
                ModelStoreArgs(
                    vpc_id=network.vpc_id,
                    private_subnet_ids=network.private_subnet_ids,
                    node_security_group_id=cluster.node_security_group_id,
                    volumes=VOLUMES,
                    namespace="liminal",
                    protect=protect,
                ),
                opts=pulumi.ResourceOptions(providers=[cluster.k8s_provider]),
            )

        return {
            "network": network,
            "cluster": cluster,
            "store": store("msdev", protect=False),
            "prod": store("msprod", protect=True),
        }

    return run(program)


def test_file_system_is_encrypted_with_its_own_key_and_backed_up(pulumi_mocks, stores):
    (file_system,) = pulumi_mocks.of_type("aws:efs/fileSystem:FileSystem", "msdev")
    (key,) = pulumi_mocks.of_type("aws:kms/key:Key", "msdev")
    assert file_system.inputs["encrypted"] is True
    assert file_system.inputs["kmsKeyId"] == key.state["arn"]
    (backup,) = pulumi_mocks.of_type("aws:efs/backupPolicy:BackupPolicy", "msdev")
    assert backup.inputs["fileSystemId"] == file_system.id
    assert backup.inputs["backupPolicy"] == {"status": "ENABLED"}
    assert resolve(stores["store"].file_system_id) == file_system.id


def test_file_system_policy_refuses_connections_without_tls(pulumi_mocks, stores):
    (file_system,) = pulumi_mocks.of_type("aws:efs/fileSystem:FileSystem", "msdev")
    (policy,) = pulumi_mocks.of_type("aws:efs/fileSystemPolicy:FileSystemPolicy", "msdev")
    assert policy.inputs["fileSystemId"] == file_system.id
    document = json.loads(policy.inputs["policy"])
    (deny,) = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == file_system.state["arn"]


def test_one_mount_target_per_private_subnet_behind_the_store_security_group(pulumi_mocks, stores):
    targets = pulumi_mocks.of_type("aws:efs/mountTarget:MountTarget", "msdev")
    (group,) = pulumi_mocks.of_type("aws:ec2/securityGroup:SecurityGroup", "msdev")
    assert sorted(t.inputs["subnetId"] for t in targets) == sorted(
        resolve(stores["network"].private_subnet_ids)
    )
    assert all(t.inputs["securityGroups"] == [group.id] for t in targets)


def test_security_group_admits_only_nfs_from_the_nodes(pulumi_mocks, stores):
    (group,) = pulumi_mocks.of_type("aws:ec2/securityGroup:SecurityGroup", "msdev")
    assert not group.inputs.get("ingress")
    assert not group.inputs.get("egress")
    rules = [
        r
        for r in pulumi_mocks.registrations()
        if r.type.startswith("aws:vpc/securityGroup") and r.inputs["securityGroupId"] == group.id
    ]
    (rule,) = rules
    assert rule.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        2049,
        2049,
    )
    assert rule.inputs["referencedSecurityGroupId"] == resolve(
        stores["cluster"].node_security_group_id
    )
    assert "cidrIpv4" not in rule.inputs


def test_each_volume_has_an_access_point_with_a_posix_user_below_the_root(pulumi_mocks, stores):
    points = pulumi_mocks.of_type("aws:efs/accessPoint:AccessPoint", "msdev")
    assert len(points) == len(VOLUMES)
    directories = {p.inputs["rootDirectory"]["path"] for p in points}
    assert "/" not in directories
    assert len(directories) == len(VOLUMES)
    for point in points:
        assert point.inputs["posixUser"] == {
            "uid": defaults.EFS_POSIX_UID,
            "gid": defaults.EFS_POSIX_GID,
        }
        assert point.inputs["rootDirectory"]["creationInfo"]["ownerUid"] == (defaults.EFS_POSIX_UID)


def test_storage_class_uses_the_efs_csi_driver(pulumi_mocks, stores):
    (storage_class,) = pulumi_mocks.of_type("kubernetes:storage.k8s.io/v1:StorageClass", "msdev")
    assert storage_class.inputs["provisioner"] == "efs.csi.aws.com"
    assert storage_class.inputs["parameters"]["fileSystemId"] == resolve(
        stores["store"].file_system_id
    )
    (provider,) = pulumi_mocks.of_type("pulumi:providers:kubernetes", "mscluster")
    assert storage_class.provider.startswith(provider.urn)


def test_each_volume_has_a_persistent_volume_bound_to_its_claim(pulumi_mocks, stores):
    volumes = {
        v.inputs["spec"]["claimRef"]["name"]: v
        for v in pulumi_mocks.of_type("kubernetes:core/v1:PersistentVolume", "msdev")
    }
    claims = {
        c.inputs["metadata"]["name"]: c
        for c in pulumi_mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim", "msdev")
    }
    assert set(claims) == set(volumes) == {"gettingstartedvol-pvc", "features"}
    points = {
        p.inputs["rootDirectory"]["path"].rsplit("/", 1)[1]: p.id
        for p in pulumi_mocks.of_type("aws:efs/accessPoint:AccessPoint", "msdev")
    }
    file_system_id = resolve(stores["store"].file_system_id)
    for claim_name, volume in volumes.items():
        claim = claims[claim_name]
        spec = volume.inputs["spec"]
        assert spec["csi"]["driver"] == "efs.csi.aws.com"
        assert spec["csi"]["volumeHandle"] == f"{file_system_id}::{points[claim_name]}"
        assert spec["accessModes"] == ["ReadWriteMany"]
        assert spec["persistentVolumeReclaimPolicy"] == "Retain"
        assert spec["claimRef"]["namespace"] == "liminal"
        assert claim.inputs["metadata"]["namespace"] == "liminal"
        assert claim.inputs["spec"]["volumeName"] == volume.inputs["metadata"]["name"]
        assert claim.inputs["spec"]["storageClassName"] == spec["storageClassName"]
    assert stores["store"].claim_names == {
        "gettingstartedvol-pvc": "gettingstartedvol-pvc",
        "features": "features",
    }


def test_stateful_resources_are_protected_and_kept_only_when_asked(pulumi_mocks, stores):
    for prefix, expected in (("msdev", False), ("msprod", True)):
        (file_system,) = pulumi_mocks.of_type("aws:efs/fileSystem:FileSystem", prefix)
        (key,) = pulumi_mocks.of_type("aws:kms/key:Key", prefix)
        for resource in (file_system, key):
            assert resource.protect is expected, resource.name
            assert resource.retain_on_delete is expected, resource.name
