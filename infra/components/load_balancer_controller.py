"""LoadBalancerController: the AWS Load Balancer Controller on the cluster, which gives the
services' `LoadBalancer` Services their Network Load Balancers.

An IAM role for its service account (IRSA: trust limited to `kube-system/aws-load-balancer-
controller` through the cluster's OIDC provider) with the IAM policy AWS publishes for this
controller version, and the controller's Helm chart from AWS's eks-charts repository. The
choice of this controller over the legacy in-tree one, the policy and the values are in
`liminal_pulumi.plans.load_balancer_controller`.

Give it the cluster's Kubernetes provider in `opts`; Services that need a load balancer should
depend on it (so they are created after it, and deleted before it, letting it remove the NLBs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from liminal_pulumi import defaults
from liminal_pulumi.components._options import child
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.plans import checks
from liminal_pulumi.plans import load_balancer_controller as plan


@dataclass(frozen=True)
class LoadBalancerControllerArgs:
    """Arguments of `LoadBalancerController`.

    Attributes:
        cluster: the EKS cluster (`Cluster.connection`); its `name` goes to the chart, and its
            IRSA provider (`oidc_provider_arn`, `oidc_provider_url`) is trusted by the
            controller's role: refused when missing. Required.
        vpc_id: the cluster's VPC (the controller's `vpcId` value, so it needs no instance
            metadata). Required.
        region: the cluster's AWS region. Required.
        tags: tags on the IAM role and policy; default none.
        chart_version: the `aws-load-balancer-controller` chart version of AWS's eks-charts;
            default `defaults.LB_CONTROLLER_CHART_VERSION`.
    """

    cluster: ClusterConnection
    vpc_id: pulumi.Input[str]
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    chart_version: str = defaults.LB_CONTROLLER_CHART_VERSION


def validate(name: str, args: LoadBalancerControllerArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource."""
    problems = checks.Problems(f"LoadBalancerController {name!r}")
    if args.cluster.oidc_provider_arn is None or args.cluster.oidc_provider_url is None:
        problems.add("cluster", "give its OIDC provider: the controller's role is an IRSA role")
    problems.raise_if_any()


class LoadBalancerController(pulumi.ComponentResource):
    """The AWS Load Balancer Controller (type `liminal:aws:LoadBalancerController`).

    Creates an IAM role for the controller's service account (IRSA) with AWS's published
    policy for the chart's controller version, and the chart's Helm release in `kube-system`
    (`liminal_pulumi.plans.load_balancer_controller`). Give it the cluster's Kubernetes provider
    in `opts`.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        role_arn: the controller's IAM role.
        release_name: the Helm release's name.
    """

    role_arn: pulumi.Output[str]
    release_name: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        args: LoadBalancerControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:LoadBalancerController", name, None, opts)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        role = aws.iam.Role(
            f"{name}-role",
            description="AWS Load Balancer Controller (IRSA)",
            assume_role_policy=pulumi.Output.all(
                args.cluster.oidc_provider_arn, args.cluster.oidc_provider_url
            ).apply(lambda v: json.dumps(plan.controller_trust_policy(v[0], v[1]))),
            tags=args.tags,
            opts=child(self),
        )
        # A customer managed policy, as the EKS user guide creates it
        # (AWSLoadBalancerControllerIAMPolicy); 5.2 KB minified, under the 6,144 limit.
        policy = aws.iam.Policy(
            f"{name}-policy",
            description="AWS's published IAM policy of the AWS Load Balancer Controller",
            policy=partition.partition.apply(
                lambda p: json.dumps(plan.controller_policy(p), separators=(",", ":"))
            ),
            tags=args.tags,
            opts=child(self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-policy",
            role=role.name,
            policy_arn=policy.arn,
            opts=child(self),
        )
        values = pulumi.Output.all(args.cluster.name, args.vpc_id, role.arn).apply(
            lambda v: plan.helm_values(
                cluster_name=v[0], region=args.region, vpc_id=v[1], role_arn=v[2]
            )
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=defaults.LB_CONTROLLER_CHART,
            chart=defaults.LB_CONTROLLER_CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=defaults.LB_CONTROLLER_CHART_REPO),
            namespace=defaults.LB_CONTROLLER_NAMESPACE,
            values=values,
            # The role must carry its policy before the controller first calls AWS.
            opts=child(self, depends_on=[attachment]),
        )
        self.role_arn = role.arn
        self.release_name = release.name
        self.register_outputs({"role_arn": self.role_arn, "release_name": self.release_name})
