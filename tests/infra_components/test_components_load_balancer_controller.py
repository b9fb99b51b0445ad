"""The AWS Load Balancer Controller under the session's mocks: an IRSA role with AWS's published
policy, and the controller's Helm chart wired to it."""

import json

import pulumi_kubernetes as k8s
import pytest

from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.components.load_balancer_controller import (
    LoadBalancerController,
    LoadBalancerControllerArgs,
)
from liminal_pulumi.plans import load_balancer_controller as plan
from liminal_pulumi.testing import resolve, run

OIDC_URL = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123"


@pytest.fixture(scope="module")
def controller(pulumi_mocks):
    return run(
        lambda: LoadBalancerController(
            "lbc",
            LoadBalancerControllerArgs(
                cluster=ClusterConnection(
                    name="liminal-dev",
                    arn="arn:aws:eks:eu-west-1:123456789012:cluster/liminal-dev",
                    endpoint="https://ABC.eks.amazonaws.com",
                    certificate_authority="Q0E=",
                    cluster_security_group_id="sg-cluster",
                    node_security_group_id="sg-nodes",
                    kubeconfig="{}",
                    provider=k8s.Provider("lbc-k8s", kubeconfig="{}"),
                    oidc_provider_arn=OIDC_ARN,
                    oidc_provider_url=OIDC_URL,
                ),
                vpc_id="vpc-0abc",
                region="eu-west-1",
                tags={"Stack": "dev"},
            ),
        )
    )


def one(pulumi_mocks, type_token):
    (registration,) = pulumi_mocks.of_type(type_token, "lbc-")
    return registration


def test_role_is_assumable_only_by_the_controllers_service_account(pulumi_mocks, controller):
    role = one(pulumi_mocks, "aws:iam/role:Role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{issuer}:aud": "sts.amazonaws.com",
            f"{issuer}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
        }
    }
    assert resolve(controller.role_arn) == role.state["arn"]


def test_role_carries_awss_published_policy(pulumi_mocks, controller):
    role = one(pulumi_mocks, "aws:iam/role:Role")
    policy = one(pulumi_mocks, "aws:iam/policy:Policy")
    attachment = one(pulumi_mocks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["role"] == role.state["name"]
    assert attachment.inputs["policyArn"] == policy.state["arn"]
    text = policy.inputs["policy"]
    assert len(text) <= 6144  # IAM's limit for a managed policy document
    document = json.loads(text)
    assert document == plan.controller_policy("aws")
    statements = document["Statement"]
    assert len(statements) == 16
    actions = {a for s in statements for a in s["Action"]}
    assert not any("*" in a for a in actions)
    # Creating load balancers and target groups needs the controller's cluster tag on them;
    # deleting them needs it on the resource.
    (create,) = [s for s in statements if "elasticloadbalancing:CreateLoadBalancer" in s["Action"]]
    assert create["Condition"] == {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    (delete,) = [s for s in statements if "elasticloadbalancing:DeleteLoadBalancer" in s["Action"]]
    assert delete["Condition"] == {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    (linked,) = [s for s in statements if s["Action"] == ["iam:CreateServiceLinkedRole"]]
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    }


def test_policy_arns_follow_the_partition():
    for partition in ("aws", "aws-us-gov"):
        resources = [
            r
            for s in plan.controller_policy(partition)["Statement"]
            for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
            if r != "*"
        ]
        assert resources and all(r.startswith(f"arn:{partition}:") for r in resources)


def test_helm_release_installs_the_pinned_chart_with_the_role(pulumi_mocks, controller):
    release = one(pulumi_mocks, "kubernetes:helm.sh/v3:Release")
    inputs = release.inputs
    assert inputs["chart"] == "aws-load-balancer-controller"
    assert inputs["version"] == "3.5.0"
    assert inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert inputs["namespace"] == "kube-system"
    role = one(pulumi_mocks, "aws:iam/role:Role")
    values = inputs["values"]
    assert values["clusterName"] == "liminal-dev"
    assert (values["region"], values["vpcId"]) == ("eu-west-1", "vpc-0abc")
    assert values["serviceAccount"] == {
        "create": True,
        "name": "aws-load-balancer-controller",
        "annotations": {"eks.amazonaws.com/role-arn": role.state["arn"]},
    }
    assert values["enableServiceMutatorWebhook"] is False
    attachment = one(pulumi_mocks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.urn in release.dependencies
