"""The AWS Load Balancer Controller: its IAM policy, its IRSA trust and its Helm values.

Why this controller and not the legacy one: a Service of type LoadBalancer is otherwise served
by the Kubernetes AWS cloud provider's legacy ("in-tree") service controller, which AWS keeps for
critical fixes only and which ignores the `aws-load-balancer-scheme` and target-type annotations.
The AWS Load Balancer Controller is what the EKS user guide installs to expose services ("Route
TCP and UDP traffic with Network Load Balancers"): NLBs with IP targets (straight to the pods),
their own security group, health checks on the server's readiness path, and clean-up of the NLB
when the Service goes.

Everything here is plain data; `liminal_pulumi.components.load_balancer_controller` turns it into
an IAM role and a Helm release.
"""

from __future__ import annotations

from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.plans.iam_policies import PolicyDocument, irsa_trust_policy

IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"  # the controller tags what it creates with it


def service_account_subject(
    namespace: str = defaults.LB_CONTROLLER_NAMESPACE,
    name: str = defaults.LB_CONTROLLER_SERVICE_ACCOUNT,
) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def controller_trust_policy(oidc_provider_arn: str, oidc_provider_url: str) -> PolicyDocument:
    """Only the controller's service account, through the cluster's OIDC provider, may assume
    the role (IRSA)."""
    return irsa_trust_policy(oidc_provider_arn, oidc_provider_url, service_account_subject())


def _allow(actions: list[str], resource: str | list[str], **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def controller_policy(partition: str = "aws") -> PolicyDocument:
    """The IAM policy AWS publishes for the controller's version
    (`defaults.LB_CONTROLLER_CHART_VERSION`): `docs/install/iam_policy.json` of
    kubernetes-sigs/aws-load-balancer-controller at v3.5.0, which the EKS user guide ("Install
    AWS Load Balancer Controller with Helm") has users create. The ARNs take `partition` (AWS
    publishes the same document for aws-us-gov and aws-cn with their partitions).

    Every write is limited to resources carrying the controller's cluster tag, except those AWS
    gives no such condition to (listeners, rules, security group ingress, WAF/Shield).
    """
    arn = f"arn:{partition}"
    tagged_by_request = {"Null": {f"aws:RequestTag/{CLUSTER_TAG}": "false"}}
    tagged_resource = {"Null": {f"aws:ResourceTag/{CLUSTER_TAG}": "false"}}
    retag = {
        "Null": {
            f"aws:RequestTag/{CLUSTER_TAG}": "true",
            f"aws:ResourceTag/{CLUSTER_TAG}": "false",
        }
    }
    load_balancers_and_groups = [
        f"{arn}:elasticloadbalancing:*:*:targetgroup/*/*",
        f"{arn}:elasticloadbalancing:*:*:loadbalancer/net/*/*",
        f"{arn}:elasticloadbalancing:*:*:loadbalancer/app/*/*",
    ]
    security_groups = f"{arn}:ec2:*:*:security-group/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _allow(
                ["iam:CreateServiceLinkedRole"],
                "*",
                StringEquals={"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"},
            ),
            _allow(
                [
                    "ec2:DescribeAccountAttributes",
                    "ec2:DescribeAddresses",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInternetGateways",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeVpcPeeringConnections",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeTags",
                    "ec2:GetCoipPoolUsage",
                    "ec2:DescribeCoipPools",
                    "ec2:GetSecurityGroupsForVpc",
                    "ec2:DescribeIpamPools",
                    "ec2:DescribeRouteTables",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeListenerCertificates",
                    "elasticloadbalancing:DescribeSSLPolicies",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "elasticloadbalancing:DescribeTags",
                    "elasticloadbalancing:DescribeTrustStores",
                    "elasticloadbalancing:DescribeListenerAttributes",
                    "elasticloadbalancing:DescribeCapacityReservation",
                ],
                "*",
            ),
            _allow(
                [
                    "cognito-idp:DescribeUserPoolClient",
                    "acm:ListCertificates",
                    "acm:DescribeCertificate",
                    "iam:ListServerCertificates",
                    "iam:GetServerCertificate",
                    "waf-regional:GetWebACL",
                    "waf-regional:GetWebACLForResource",
                    "waf-regional:AssociateWebACL",
                    "waf-regional:DisassociateWebACL",
                    "wafv2:GetWebACL",
                    "wafv2:GetWebACLForResource",
                    "wafv2:AssociateWebACL",
                    "wafv2:DisassociateWebACL",
                    "shield:GetSubscriptionState",
                    "shield:DescribeProtection",
                    "shield:CreateProtection",
                    "shield:DeleteProtection",
                ],
                "*",
            ),
            _allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], "*"),
            _allow(["ec2:CreateSecurityGroup"], "*"),
            _allow(
                ["ec2:CreateTags"],
                security_groups,
                StringEquals={"ec2:CreateAction": "CreateSecurityGroup"},
                **tagged_by_request,
            ),
            _allow(["ec2:CreateTags", "ec2:DeleteTags"], security_groups, **retag),
            _allow(
                [
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                ],
                "*",
                **tagged_resource,
            ),
            _allow(
                [
                    "elasticloadbalancing:CreateLoadBalancer",
                    "elasticloadbalancing:CreateTargetGroup",
                ],
                "*",
                **tagged_by_request,
            ),
            _allow(
                [
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                ],
                "*",
            ),
            _allow(
                ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                load_balancers_and_groups,
                **retag,
            ),
            _allow(
                ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                [
                    f"{arn}:elasticloadbalancing:*:*:listener/net/*/*/*",
                    f"{arn}:elasticloadbalancing:*:*:listener/app/*/*/*",
                    f"{arn}:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
                    f"{arn}:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
                ],
            ),
            _allow(
                [
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:ModifyListenerAttributes",
                    "elasticloadbalancing:ModifyCapacityReservation",
                    "elasticloadbalancing:ModifyIpPools",
                ],
                "*",
                **tagged_resource,
            ),
            _allow(
                ["elasticloadbalancing:AddTags"],
                load_balancers_and_groups,
                StringEquals={
                    "elasticloadbalancing:CreateAction": [
                        "CreateTargetGroup",
                        "CreateLoadBalancer",
                    ]
                },
                **tagged_by_request,
            ),
            _allow(
                ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                f"{arn}:elasticloadbalancing:*:*:targetgroup/*/*",
            ),
            _allow(
                [
                    "elasticloadbalancing:SetWebAcl",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:SetRulePriorities",
                ],
                "*",
            ),
        ],
    }


def helm_values(*, cluster_name: str, region: str, vpc_id: str, role_arn: str) -> dict[str, Any]:
    """Values of the `aws-load-balancer-controller` chart (names from its values.yaml).

    Region and VPC are given rather than read from the node's instance metadata. The service
    mutator webhook (on by default, failurePolicy Fail) is off: liminal's Services name their
    `loadBalancerClass` themselves, so no Service creation in the cluster depends on the
    controller's webhook being up.
    """
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": defaults.LB_CONTROLLER_REPLICAS,
        "serviceAccount": {
            "create": True,
            "name": defaults.LB_CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        "enableServiceMutatorWebhook": False,
    }
