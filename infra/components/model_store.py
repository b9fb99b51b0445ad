"""ModelStore: encrypted EFS reachable only from the nodes over TLS, and on the cluster a
StorageClass plus one PersistentVolume and Claim per liminal.yml volume."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from liminal_pulumi import defaults
from liminal_pulumi.components._options import child, merged_tags, stateful
from liminal_pulumi.dsl.model import Volume
from liminal_pulumi.plans import iam_policies
from liminal_pulumi.plans.model_store_plan import plan_volumes

EFS_CSI_DRIVER = "efs.csi.aws.com"
NFS_PORT = 2049


@dataclass(frozen=True)
class ModelStoreArgs:
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    volumes: Sequence[Volume] = ()
    namespace: pulumi.Input[str] | str = defaults.DEFAULT_NAMESPACE
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class ModelStore(pulumi.ComponentResource):
    """Kubernetes children use the provider given in `opts` (providers=[k8s_provider])."""

    file_system_id: pulumi.Output[str]
    file_system_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    access_point_ids: dict[str, pulumi.Output[str]]
    access_point_id: pulumi.Output[str] | None
    storage_class_name: pulumi.Output[str]
    claim_names: dict[str, str]

    def __init__(
        self, name: str, args: ModelStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("liminal:aws:ModelStore", name, None, opts)
        namespace = args.namespace if isinstance(args.namespace, str) else None
        plans = plan_volumes(args.volumes, namespace or defaults.DEFAULT_NAMESPACE)

        key = aws.kms.Key(
            f"{name}-efs",
            description=f"Encrypts the model store {name}",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            tags=args.tags,
            opts=stateful(self, args.protect),
        )
        file_system = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            kms_key_id=key.arn,
            performance_mode="generalPurpose",
            throughput_mode="elastic",
            tags=merged_tags(args.tags, Name=f"{name}-models"),
            opts=stateful(self, args.protect),
        )
        aws.efs.BackupPolicy(
            f"{name}-backup",
            file_system_id=file_system.id,
            backup_policy=aws.efs.BackupPolicyBackupPolicyArgs(status="ENABLED"),
            opts=child(self),
        )
        aws.efs.FileSystemPolicy(
            f"{name}-tls-only",
            file_system_id=file_system.id,
            policy=file_system.arn.apply(
                lambda arn: json.dumps(iam_policies.efs_tls_only_policy(arn))
            ),
            opts=child(self),
        )
        # No egress: NFS replies ride on the admitted connection, EFS starts none itself.
        security_group = aws.ec2.SecurityGroup(
            f"{name}-efs",
            description="Model store: NFS from the cluster's nodes only",
            vpc_id=args.vpc_id,
            tags=merged_tags(args.tags, Name=f"{name}-efs"),
            opts=child(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nfs-from-nodes",
            security_group_id=security_group.id,
            referenced_security_group_id=args.node_security_group_id,
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            description="NFS from the cluster's nodes",
            opts=child(self),
        )
        mount_targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{index}",
                file_system_id=file_system.id,
                subnet_id=subnet_id,
                security_groups=[security_group.id],
                opts=child(self),
            )
            for index, subnet_id in enumerate(args.private_subnet_ids)
        ]

        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=defaults.EFS_STORAGE_CLASS),
            provisioner=EFS_CSI_DRIVER,
            reclaim_policy="Retain",
            volume_binding_mode="Immediate",
            # For claims made outside liminal.yml: one access point per claim, under our root.
            parameters={
                "provisioningMode": "efs-ap",
                "fileSystemId": file_system.id,
                "directoryPerms": "700",
                "basePath": defaults.EFS_ROOT_DIRECTORY,
                "uid": str(defaults.EFS_POSIX_UID),
                "gid": str(defaults.EFS_POSIX_GID),
            },
            opts=child(self),
        )

        self.access_point_ids = {}
        self.claim_names = {}
        for plan in plans:
            access_point = aws.efs.AccessPoint(
                f"{name}-{plan.volume}",
                file_system_id=file_system.id,
                root_directory=aws.efs.AccessPointRootDirectoryArgs(
                    path=plan.root_directory,
                    creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                        owner_uid=defaults.EFS_POSIX_UID,
                        owner_gid=defaults.EFS_POSIX_GID,
                        permissions=defaults.EFS_ROOT_PERMISSIONS,
                    ),
                ),
                posix_user=aws.efs.AccessPointPosixUserArgs(
                    uid=defaults.EFS_POSIX_UID, gid=defaults.EFS_POSIX_GID
                ),
                tags=merged_tags(args.tags, Name=f"{name}-{plan.volume}"),
                opts=child(self),
            )
            volume = k8s.core.v1.PersistentVolume(
                f"{name}-{plan.volume}-pv",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=plan.persistent_volume_name, labels={"liminal/volume": plan.claim_name}
                ),
                spec=k8s.core.v1.PersistentVolumeSpecArgs(
                    capacity={"storage": defaults.EFS_VOLUME_CAPACITY},
                    access_modes=["ReadWriteMany"],
                    persistent_volume_reclaim_policy="Retain",
                    storage_class_name=storage_class.metadata.apply(lambda m: str(m.name)),
                    csi=k8s.core.v1.CSIPersistentVolumeSourceArgs(
                        driver=EFS_CSI_DRIVER,
                        volume_handle=pulumi.Output.concat(file_system.id, "::", access_point.id),
                        # TLS in transit; the file system policy refuses anything else.
                        volume_attributes={"encryptInTransit": "true"},
                    ),
                    claim_ref=k8s.core.v1.ObjectReferenceArgs(
                        namespace=args.namespace, name=plan.claim_name
                    ),
                ),
                # Pods can only mount once a mount target exists in their subnet.
                opts=child(self, depends_on=mount_targets),
            )
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-{plan.volume}-pvc",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=plan.claim_name,
                    namespace=args.namespace,
                    labels={"liminal/volume": plan.claim_name},
                ),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteMany"],
                    storage_class_name=storage_class.metadata.apply(lambda m: str(m.name)),
                    volume_name=volume.metadata.apply(lambda m: str(m.name)),
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                        requests={"storage": defaults.EFS_VOLUME_CAPACITY}
                    ),
                ),
                opts=child(self),
            )
            self.access_point_ids[plan.volume] = access_point.id
            self.claim_names[plan.volume] = plan.claim_name

        self.file_system_id = file_system.id
        self.file_system_arn = file_system.arn
        self.security_group_id = security_group.id
        self.access_point_id = next(iter(self.access_point_ids.values()), None)
        self.storage_class_name = storage_class.metadata.apply(lambda m: str(m.name))
        self.register_outputs(
            {
                "file_system_id": self.file_system_id,
                "file_system_arn": self.file_system_arn,
                "security_group_id": self.security_group_id,
                "access_point_ids": self.access_point_ids,
                "storage_class_name": self.storage_class_name,
                "claim_names": self.claim_names,
            }
        )
