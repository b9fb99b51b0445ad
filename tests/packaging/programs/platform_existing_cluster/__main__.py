"""A platform team's Pulumi program (infra/__main__.py): liminal on a shared VPC and EKS cluster."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from liminal_pulumi.components import (
    ClusterConnection,
    ExistingNetwork,
    LiminalPlatform,
    PlatformArgs,
)
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.plans.kubeconfig import eks_kubeconfig_yaml

REGION = "eu-west-1"
project = load_project(pulumi.Config("liminal").require("project"))

# The shared cluster (access entries on, aws-efs-csi-driver and metrics-server add-ons running).
eks = aws.eks.get_cluster_output(name="shared-eks")
certificate = eks.certificate_authorities[0].data
kubeconfig = pulumi.Output.all(eks.name, eks.endpoint, certificate).apply(
    lambda v: eks_kubeconfig_yaml(
        cluster_name=v[0], endpoint=v[1], certificate_authority_data=v[2], region=REGION
    )
)
cluster = ClusterConnection(
    name=eks.name,
    arn=eks.arn,
    endpoint=eks.endpoint,
    certificate_authority=certificate,
    cluster_security_group_id=eks.vpc_config.cluster_security_group_id,
    # Managed node groups without a group of their own use the cluster security group.
    node_security_group_id=eks.vpc_config.cluster_security_group_id,
    kubeconfig=kubeconfig,
    provider=k8s.Provider("shared-eks", kubeconfig=kubeconfig),
)

platform = LiminalPlatform(
    "fraud",
    PlatformArgs(
        project=project,
        environment="team-fraud",
        region=REGION,
        network=ExistingNetwork(
            vpc_id=eks.vpc_config.vpc_id,
            private_subnet_ids=["subnet-0aaa1111", "subnet-0bbb2222"],
        ),
        cluster=cluster,
        namespace="fraud",  # one namespace per team on the shared cluster
    ),
)
pulumi.export("airflowUrl", platform.airflow_webserver_url)
