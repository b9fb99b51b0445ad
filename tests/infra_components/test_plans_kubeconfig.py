"""The kubeconfig a Pulumi program uses for an existing EKS cluster (aws eks get-token)."""

import yaml

from liminal_pulumi.plans.kubeconfig import EXEC_API_VERSION, eks_kubeconfig_yaml


def test_kubeconfig_gets_its_token_from_aws_eks_get_token():
    text = eks_kubeconfig_yaml(
        cluster_name="liminal-dev",
        endpoint="https://ABC.eks.amazonaws.com",
        certificate_authority_data="Q0E=",
        region="eu-west-1",
    )
    config = yaml.safe_load(text)
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {
        "server": "https://ABC.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    (user,) = config["users"]
    command = user["user"]["exec"]
    assert command["apiVersion"] == EXEC_API_VERSION == "client.authentication.k8s.io/v1beta1"
    assert command["command"] == "aws"
    args = command["args"]
    assert args[:2] == ["eks", "get-token"]
    assert args[args.index("--cluster-name") + 1] == "liminal-dev"
    assert args[args.index("--region") + 1] == "eu-west-1"
    (context,) = config["contexts"]
    assert config["current-context"] == context["name"]
    assert context["context"] == {"cluster": "liminal-dev", "user": user["name"]}
    assert set(user["user"]) == {"exec"}  # no static token or key in the file
