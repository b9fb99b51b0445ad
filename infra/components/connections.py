"""What one component hands another: a VPC's subnets, a cluster's connection.

`Network` produces an `ExistingNetwork` (`network.as_existing()`), `Cluster` a `ClusterConnection`
(`cluster.connection`); a platform team with its own VPC or EKS cluster builds them by hand and
gives them to `LiminalPlatform` (`PlatformArgs.network`, `PlatformArgs.cluster`) or to `Airflow`,
`ModelStore` and `Services` directly, in the way pulumi-awsx takes `existing` resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ExistingNetwork:
    """A VPC the platform runs in instead of creating one with `Network`.

    Attributes:
        vpc_id: the VPC's id (`vpc-...`).
        private_subnet_ids: private subnets (a route to a NAT, no public IPs), at least two in
            distinct availability zones: EKS nodes, EFS mount targets and MWAA go there, and
            MWAA takes the first two (MWAA requires exactly two, in two AZs; Amazon MWAA User
            Guide, "About networking on Amazon MWAA"). Tagged `kubernetes.io/role/internal-elb`
            for internal load balancers.
        public_subnet_ids: public subnets, for public load balancers only
            (`kubernetes.io/role/elb`); may be empty when nothing is exposed publicly.
    """

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_ids: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True)
class ClusterConnection:
    """How to reach an EKS cluster: everything `Airflow`, `ModelStore` and `Services` need of it.

    `Cluster` produces one (`cluster.connection`); for a cluster made elsewhere, build it from
    that cluster's facts (`aws.eks.get_cluster_output(name=...)` gives the endpoint, certificate
    authority and cluster security group) and a `pulumi_kubernetes.Provider` on its kubeconfig
    (`liminal_pulumi.plans.kubeconfig.eks_kubeconfig_yaml` writes one that authenticates with
    `aws eks get-token`). Such a cluster must use access entries (authentication mode `API` or
    `API_AND_CONFIG_MAP`, for MWAA's access entry) and run the `aws-efs-csi-driver` and
    `metrics-server` add-ons (the model store's volumes and the services' autoscalers need them).

    Attributes:
        name: the EKS cluster's name.
        arn: its ARN (`arn:aws:eks:<region>:<account>:cluster/<name>`); MWAA's execution role
            may describe this cluster only.
        endpoint: the Kubernetes API URL (`https://...eks.amazonaws.com`).
        certificate_authority: the API's CA certificate, base64 (EKS's
            `certificateAuthority.data`).
        cluster_security_group_id: the cluster security group EKS created; MWAA is admitted to
            the API through it (HTTPS).
        node_security_group_id: the security group of the nodes pods run on; the model store
            admits NFS from it. For managed node groups without their own group, the cluster
            security group.
        kubeconfig: a kubeconfig (YAML or JSON) for the cluster; treated as a secret.
        provider: the Kubernetes provider that applies the namespace, volumes and services.
        oidc_provider_arn: the cluster's IAM OIDC provider (for IRSA roles); `None` if unknown.
        oidc_provider_url: its issuer URL; `None` if unknown.
        workloads_ready: resources workloads must wait for (nodes, add-ons); `Cluster` lists
            its node group and add-ons, an existing cluster usually none.
    """

    name: pulumi.Input[str]
    arn: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    certificate_authority: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    node_security_group_id: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str] | None = None
    oidc_provider_url: pulumi.Input[str] | None = None
    workloads_ready: Sequence[pulumi.Resource] = field(default_factory=tuple)
