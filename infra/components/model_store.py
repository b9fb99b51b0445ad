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
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.dsl.model import Volume
from liminal_pulumi.plans import checks, iam_policies
from liminal_pulumi.plans.model_store_plan import VolumePlan, dns_label, plan_volumes

EFS_CSI_DRIVER = "efs.csi.aws.com"
NFS_PORT = 2049


@dataclass(frozen=True)
class ModelStoreArgs:
    """Arguments of `ModelStore`.

    Attributes:
        vpc_id: the VPC of the file system's security group. Required.
        private_subnet_ids: subnets that get a mount target (one each; pods mount through the
            one in their AZ). Required, at least one.
        node_security_group_id: the nodes' security group, the only one admitted over NFS
            (TCP 2049). Default `None`: `cluster.node_security_group_id`; refused when neither
            is given.
        volumes: the liminal.yml volumes (`Project.volumes().values()`), each getting an access
            point, a PersistentVolume and a claim (default none). Refused: two volumes on one
            claim name, or a claim name Kubernetes refuses.
        namespace: the namespace of the claims (default `defaults.DEFAULT_NAMESPACE`). As a
            plain string it must be a DNS label; an output (`Cluster.namespace`) makes the claims
            wait for the namespace.
        protect: protect and retain the file system and its key (default `False`).
        tags: tags on every AWS resource (default none).
        cluster: the cluster the Kubernetes objects go to (`Cluster.connection`); its provider
            is used and its node security group is the default of `node_security_group_id`.
            Default `None`: the provider given in `opts`, else the ambient kubeconfig.
        storage_class_name: the (cluster-wide) StorageClass's name. Default `None`:
            `<namespace>-efs` for a plain namespace (`liminal-efs`), else
            `defaults.EFS_STORAGE_CLASS`.
    """

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str] | None = None
    volumes: Sequence[Volume] = ()
    namespace: pulumi.Input[str] | str = defaults.DEFAULT_NAMESPACE
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    cluster: ClusterConnection | None = None
    storage_class_name: str | None = None


def validate(name: str, args: ModelStoreArgs) -> tuple[VolumePlan, ...]:
    """The volumes' plans, or every problem with `args` in one `ComponentArgumentError`."""
    problems = checks.Problems(f"ModelStore {name!r}")
    if not args.private_subnet_ids:
        problems.add("private_subnet_ids", "list at least one subnet for a mount target")
    if args.node_security_group_id is None and args.cluster is None:
        problems.add(
            "node_security_group_id", "give it, or the cluster whose nodes mount the store"
        )
    namespace = args.namespace if isinstance(args.namespace, str) else None
    if namespace is not None and not _is_dns_label(namespace):
        problems.add("namespace", f"{namespace!r} is not a Kubernetes DNS label")
        namespace = None
    plans: tuple[VolumePlan, ...] = ()
    try:
        plans = plan_volumes(args.volumes, namespace or defaults.DEFAULT_NAMESPACE)
    except ValueError as error:
        problems.add("volumes", str(error))
    problems.raise_if_any()
    return plans


def storage_class_name(args: ModelStoreArgs) -> str:
    if args.storage_class_name is not None:
        return args.storage_class_name
    if isinstance(args.namespace, str):
        return dns_label(f"{args.namespace}-efs")
    return defaults.EFS_STORAGE_CLASS


def _is_dns_label(text: str) -> bool:
    try:
        return dns_label(text) == text
    except ValueError:
        return False


class ModelStore(pulumi.ComponentResource):
    """The model store: EFS shared by pipelines and services (type `liminal:aws:ModelStore`).

    Creates a KMS key; an encrypted, backed-up EFS file system (elastic throughput) whose policy
    refuses connections without TLS; a security group admitting NFS from the nodes only; a
    mount target per subnet; on the cluster a StorageClass (EFS CSI driver, access point per
    claim for claims made outside liminal.yml); and per liminal.yml volume an access point
    (its own directory below `defaults.EFS_ROOT_DIRECTORY`, POSIX user
    `defaults.EFS_POSIX_UID`), a PersistentVolume (TLS in transit) and the claim bound to it.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        file_system_id: the EFS file system's id.
        file_system_arn: its ARN.
        security_group_id: the file system's security group.
        access_point_ids: volume name -> its access point's id.
        access_point_id: the first volume's access point id, `None` without volumes.
        storage_class_name: the StorageClass's name.
        claim_names: volume name -> PersistentVolumeClaim name.
    """

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
        plans = validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:ModelStore", name, None, opts)
        node_security_group_id = args.node_security_group_id
        if node_security_group_id is None and args.cluster is not None:
            node_security_group_id = args.cluster.node_security_group_id
        provider = args.cluster.provider if args.cluster is not None else None

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
            referenced_security_group_id=node_security_group_id,
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
            metadata=k8s.meta.v1.ObjectMetaArgs(name=storage_class_name(args)),
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
            opts=child(self, provider=provider),
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
                opts=child(self, depends_on=mount_targets, provider=provider),
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
                opts=child(self, provider=provider),
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
