"""Cluster: EKS (pulumi-eks) with access entries, OIDC, KMS secrets, managed nodes on IMDSv2,
the EFS CSI add-on with its IRSA role, and the namespace liminal workloads run in."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from liminal_pulumi import defaults
from liminal_pulumi.components._options import child, stateful
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.plans import checks, iam_policies
from liminal_pulumi.plans.model_store_plan import dns_label
from liminal_pulumi.plans.namespace_plan import namespace_labels

KUBERNETES_VERSION = re.compile(r"^1\.\d{2}$")


@dataclass(frozen=True)
class ClusterArgs:
    """Arguments of `Cluster`.

    Attributes:
        vpc_id: the VPC the cluster runs in (`Network.vpc_id` or your own). Required.
        private_subnet_ids: private subnets for the control plane's interfaces and the nodes,
            in at least two AZs. Required, at least two.
        public_subnet_ids: public subnets, where public load balancers go; may be empty.
        kubernetes_version: the EKS Kubernetes version, `1.NN` (default
            `defaults.KUBERNETES_VERSION`). Refused: anything not of that form.
        instance_types: EC2 instance types of the managed node group, all x86_64 or all
            Graviton (default `defaults.NODE_INSTANCE_TYPES`, `t3.large`). Refused: none, or a
            mix of architectures.
        node_min_size: nodes at least (default `defaults.NODE_MIN_SIZE`, 1).
        node_desired_size: nodes to start with (default `defaults.NODE_DESIRED_SIZE`, 2).
        node_max_size: nodes at most (default `defaults.NODE_MAX_SIZE`, 3). Refused unless
            0 <= min <= desired <= max.
        endpoint_public_access: whether the Kubernetes API is also reachable from the internet
            (default `False`: private endpoint only, reachable from the VPC).
        public_access_cidrs: the networks (CIDRs) allowed to the public endpoint; used only
            with `endpoint_public_access`. Refused: none when the endpoint is public (EKS would
            admit 0.0.0.0/0), an invalid network, or a `/0` range.
        namespace: the namespace created for liminal workloads, a DNS label (default
            `defaults.DEFAULT_NAMESPACE`, `liminal`).
        protect: protect and retain the stateful parts (the cluster and its secrets key) and
            turn on EKS deletion protection (default `False`; production stacks set it).
        tags: tags on every AWS resource (default none).
        cluster_name: the EKS cluster's name (default: the component's name); refused unless
            it matches `liminal_pulumi.plans.checks.ENVIRONMENT_NAME`.
    """

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    kubernetes_version: str = defaults.KUBERNETES_VERSION
    instance_types: Sequence[str] = defaults.NODE_INSTANCE_TYPES
    node_min_size: int = defaults.NODE_MIN_SIZE
    node_desired_size: int = defaults.NODE_DESIRED_SIZE
    node_max_size: int = defaults.NODE_MAX_SIZE
    endpoint_public_access: bool = False
    # Only used when the public endpoint is on; an empty list would mean the whole internet.
    public_access_cidrs: Sequence[str] = ()
    namespace: str = defaults.DEFAULT_NAMESPACE
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # The EKS cluster's name; the component's name when left out.
    cluster_name: str | None = None


_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*\.")


def node_ami_type(instance_types: Sequence[str]) -> str:
    """The AL2023 AMI type for the instance types' architecture (Graviton families end in g)."""
    arm = {bool(_GRAVITON_FAMILY.match(t)) for t in instance_types}
    if len(arm) != 1:
        raise ValueError(
            f"node instance types {', '.join(instance_types) or '(none)'} must all be "
            "x86_64 or all be Graviton (arm64)"
        )
    return "AL2023_ARM_64_STANDARD" if arm == {True} else "AL2023_x86_64_STANDARD"


def validate(name: str, args: ClusterArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource."""
    problems = checks.Problems(f"Cluster {name!r}")
    if len(args.private_subnet_ids) < 2:
        problems.add(
            "private_subnet_ids", f"need at least 2 (two AZs), got {len(args.private_subnet_ids)}"
        )
    if not KUBERNETES_VERSION.match(args.kubernetes_version):
        problems.add("kubernetes_version", f"{args.kubernetes_version!r} is not of the form 1.NN")
    if not args.instance_types:
        problems.add("instance_types", "list at least one EC2 instance type")
    else:
        try:
            node_ami_type(args.instance_types)
        except ValueError as error:
            problems.add("instance_types", str(error))
    checks.check_nodes_and_endpoint(
        problems,
        (args.node_min_size, args.node_desired_size, args.node_max_size),
        args.endpoint_public_access,
        args.public_access_cidrs,
    )
    try:
        if dns_label(args.namespace) != args.namespace:
            problems.add("namespace", f"{args.namespace!r} is not a Kubernetes DNS label")
    except ValueError as error:
        problems.add("namespace", str(error))
    problems.check("cluster_name", checks.environment_name(args.cluster_name or name))
    problems.raise_if_any()


def kubeconfig_field(kubeconfig_json: str | None, key: str) -> str:
    """The endpoint ('server') or CA ('certificate-authority-data') of pulumi-eks's kubeconfig;
    empty when there is none (mocks that echo their inputs report no kubeconfig)."""
    if not kubeconfig_json:
        return ""
    return str(json.loads(kubeconfig_json)["clusters"][0]["cluster"][key])


class Cluster(pulumi.ComponentResource):
    """An EKS cluster for liminal workloads (type `liminal:aws:Cluster`).

    Creates, with pulumi-eks, the cluster (private endpoint, optional CIDR-limited public one,
    access entries (`API` mode), an IAM OIDC provider, Kubernetes secrets encrypted with its own
    KMS key, every control plane log type), a managed node group on an IMDSv2-only launch
    template with encrypted disks and its IAM role, the `aws-efs-csi-driver` add-on with an IRSA
    role, the `metrics-server` add-on, a Kubernetes provider and the workloads' namespace (Pod
    Security `baseline` enforced, `restricted` warned).

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        connection: everything `Airflow`, `ModelStore` and `Services` need of the cluster.
        cluster_name: the EKS cluster's name (resolves once the cluster exists).
        cluster_arn: its ARN.
        endpoint: the Kubernetes API URL.
        certificate_authority: the API's CA certificate, base64.
        oidc_provider_arn: the IAM OIDC provider's ARN (for IRSA roles).
        oidc_provider_url: the OIDC issuer URL.
        node_security_group_id: the nodes' security group.
        cluster_security_group_id: the cluster security group.
        node_role_arn: the nodes' IAM role.
        efs_csi_role_arn: the EFS CSI driver's IRSA role.
        k8s_provider: the Kubernetes provider on this cluster.
        namespace: the workloads' namespace (resolves once it exists).
        kubeconfig: the kubeconfig (JSON), a secret.
        workloads_ready: node group and add-ons that workloads wait for.
    """

    connection: ClusterConnection
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    efs_csi_role_arn: pulumi.Output[str]
    k8s_provider: k8s.Provider
    namespace: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:Cluster", name, None, opts)
        eks_name = args.cluster_name or name
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)

        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Encrypts the Kubernetes secrets of {eks_name}",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            tags=args.tags,
            opts=stateful(self, args.protect),
        )
        public_access: dict[str, Any] = {"endpoint_public_access": args.endpoint_public_access}
        if args.endpoint_public_access:
            public_access["public_access_cidrs"] = list(args.public_access_cidrs)
        cluster = eks.Cluster(
            f"{name}-eks",
            name=eks_name,
            version=args.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),
            public_subnet_ids=list(args.public_subnet_ids),
            endpoint_private_access=True,
            **public_access,
            authentication_mode=eks.AuthenticationMode.API,
            create_oidc_provider=True,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=list(defaults.EKS_CONTROL_PLANE_LOG_TYPES),
            skip_default_node_group=True,
            deletion_protection=args.protect,
            tags=args.tags,
            opts=child(self, protect=args.protect),
        )
        # The name as an output of the cluster, so whatever uses it waits for the cluster.
        self.cluster_name = cluster.kubeconfig_json.apply(lambda _: eks_name)
        self.cluster_arn = pulumi.Output.all(
            partition.partition, region.region, identity.account_id, self.cluster_name
        ).apply(lambda v: f"arn:{v[0]}:eks:{v[1]}:{v[2]}:cluster/{v[3]}")
        self.endpoint = cluster.kubeconfig_json.apply(lambda k: kubeconfig_field(k, "server"))
        self.certificate_authority = cluster.kubeconfig_json.apply(
            lambda k: kubeconfig_field(k, "certificate-authority-data")
        )
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_provider_url = cluster.oidc_provider_url
        self.node_security_group_id = cluster.node_security_group_id
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)

        node_group = self._node_group(name, args, partition.partition)
        self.efs_csi_role_arn, efs_csi = self._efs_csi_driver(
            name, args, partition.partition, node_group
        )
        # The services' HorizontalPodAutoscalers scale on CPU, which only metrics-server reports.
        metrics_server = aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=self.cluster_name,
            addon_name=defaults.METRICS_SERVER_ADDON,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=args.tags,
            opts=child(self, depends_on=[node_group]),
        )
        # What workloads need before they can start: nodes, the EFS driver, metrics.
        self.workloads_ready: list[pulumi.Resource] = [node_group, efs_csi, metrics_server]

        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=child(self),
        )
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=namespace_labels()),
            opts=child(self, provider=self.k8s_provider),
        )
        self.namespace = namespace.metadata.apply(lambda m: str(m.name))
        self.connection = ClusterConnection(
            name=self.cluster_name,
            arn=self.cluster_arn,
            endpoint=self.endpoint,
            certificate_authority=self.certificate_authority,
            cluster_security_group_id=self.cluster_security_group_id,
            node_security_group_id=self.node_security_group_id,
            kubeconfig=self.kubeconfig,
            provider=self.k8s_provider,
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_provider_url=self.oidc_provider_url,
            workloads_ready=tuple(self.workloads_ready),
        )

        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_provider_url": self.oidc_provider_url,
                "node_security_group_id": self.node_security_group_id,
                "cluster_security_group_id": self.cluster_security_group_id,
                "node_role_arn": self.node_role_arn,
                "efs_csi_role_arn": self.efs_csi_role_arn,
                "namespace": self.namespace,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _node_group(
        self, name: str, args: ClusterArgs, partition: pulumi.Output[str]
    ) -> aws.eks.NodeGroup:
        role = aws.iam.Role(
            f"{name}-nodes",
            assume_role_policy=json.dumps(iam_policies.node_trust_policy()),
            tags=args.tags,
            opts=child(self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=role.name,
                policy_arn=partition.apply(partial(iam_policies.managed_policy_arn, policy)),
                opts=child(self),
            )
            for policy in iam_policies.NODE_MANAGED_POLICIES
        ]
        template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"Nodes of {name}: IMDSv2 only, encrypted root volume",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=defaults.NODE_METADATA_HOP_LIMIT,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=defaults.NODE_DISK_SIZE_GIB,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            vpc_security_group_ids=[self.node_security_group_id],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type="instance", tags={**args.tags, "Name": f"{name}-node"}
                )
            ],
            tags=args.tags,
            opts=child(self),
        )
        self.node_role_arn = role.arn
        return aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=list(args.private_subnet_ids),
            instance_types=list(args.instance_types),
            ami_type=node_ami_type(args.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.node_min_size,
                desired_size=args.node_desired_size,
                max_size=args.node_max_size,
            ),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            tags=args.tags,
            opts=child(self, depends_on=attachments),
        )

    def _efs_csi_driver(
        self,
        name: str,
        args: ClusterArgs,
        partition: pulumi.Output[str],
        node_group: aws.eks.NodeGroup,
    ) -> tuple[pulumi.Output[str], aws.eks.Addon]:
        role = aws.iam.Role(
            f"{name}-efs-csi",
            assume_role_policy=pulumi.Output.all(
                self.oidc_provider_arn, self.oidc_provider_url
            ).apply(lambda v: json.dumps(iam_policies.efs_csi_irsa_trust_policy(v[0], v[1] or ""))),
            tags=args.tags,
            opts=child(self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-efs-csi",
            role=role.name,
            policy_arn=partition.apply(
                lambda p: iam_policies.managed_policy_arn(iam_policies.EFS_CSI_MANAGED_POLICY, p)
            ),
            opts=child(self),
        )
        addon = aws.eks.Addon(
            f"{name}-efs-csi",
            cluster_name=self.cluster_name,
            addon_name=defaults.EFS_CSI_ADDON,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=args.tags,
            # The driver's pods need nodes to run on, or the add-on never becomes active.
            opts=child(self, depends_on=[node_group, attachment]),
        )
        return role.arn, addon
