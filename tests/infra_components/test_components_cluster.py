import json

import pytest
import yaml

from liminal_pulumi.components.cluster import Cluster, ClusterArgs, node_ami_type
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.testing import MOCK_CA_DATA, is_secret, resolve, run

TAGS = {"liminal:stack": "test"}


@pytest.fixture(scope="module")
def clusters(pulumi_mocks):
    def program():
        network = Network("clnet", NetworkArgs(cidr="10.3.0.0/16", tags=TAGS))

        def cluster(name, **settings):
            return Cluster(
                name,
                ClusterArgs(
                    vpc_id=network.vpc_id,
                    private_subnet_ids=network.private_subnet_ids,
                    public_subnet_ids=network.public_subnet_ids,
                    namespace="liminal-apps",
                    instance_types=("m6i.large",),
                    node_min_size=2,
                    node_desired_size=3,
                    node_max_size=5,
                    tags=TAGS,
                    **settings,
                ),
            )

        return {
            "network": network,
            "private": cluster("clpriv"),
            "public": cluster(
                "clpub",
                endpoint_public_access=True,
                public_access_cidrs=("203.0.113.0/24",),
                protect=True,
            ),
        }

    return run(program)


def eks_cluster(pulumi_mocks, prefix):
    (registration,) = pulumi_mocks.of_type("eks:index:Cluster", prefix)
    return registration


def test_eks_cluster_security_settings(pulumi_mocks, clusters):
    cluster = eks_cluster(pulumi_mocks, "clpriv")
    inputs = cluster.inputs
    assert inputs["authenticationMode"] == "API"
    assert inputs["createOidcProvider"] is True
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs
    assert {"api", "audit", "authenticator"} <= set(inputs["enabledClusterLogTypes"])
    (key,) = pulumi_mocks.of_type("aws:kms/key:Key", "clpriv")
    assert inputs["encryptionConfigKeyArn"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert inputs["skipDefaultNodeGroup"] is True


def test_cluster_runs_in_the_networks_subnets(pulumi_mocks, clusters):
    inputs = eks_cluster(pulumi_mocks, "clpriv").inputs
    network = clusters["network"]
    assert inputs["vpcId"] == resolve(network.vpc_id)
    assert inputs["privateSubnetIds"] == resolve(network.private_subnet_ids)
    assert inputs["publicSubnetIds"] == resolve(network.public_subnet_ids)


def test_public_endpoint_is_limited_to_the_given_networks(pulumi_mocks, clusters):
    inputs = eks_cluster(pulumi_mocks, "clpub").inputs
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_public_endpoint_without_cidrs_is_refused(pulumi_mocks):
    with pytest.raises(ValueError, match="public_access_cidrs"):
        run(
            lambda: Cluster(
                "clopen",
                ClusterArgs(
                    vpc_id="vpc-1",
                    private_subnet_ids=["a", "b"],
                    public_subnet_ids=["c", "d"],
                    endpoint_public_access=True,
                ),
            )
        )


def test_managed_nodes_require_imdsv2_and_encrypt_their_disks(pulumi_mocks, clusters):
    (template,) = pulumi_mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate", "clpriv")
    metadata = template.inputs["metadataOptions"]
    assert metadata["httpTokens"] == "required"
    assert metadata["httpEndpoint"] == "enabled"
    (disk,) = template.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true"
    cluster = eks_cluster(pulumi_mocks, "clpriv")
    assert template.inputs["vpcSecurityGroupIds"] == [cluster.state["nodeSecurityGroupId"]]

    (group,) = pulumi_mocks.of_type("aws:eks/nodeGroup:NodeGroup", "clpriv")
    assert group.inputs["launchTemplate"]["id"] == template.id
    assert group.inputs["clusterName"] == "clpriv"
    assert group.inputs["subnetIds"] == resolve(clusters["network"].private_subnet_ids)
    assert group.inputs["instanceTypes"] == ["m6i.large"]
    assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert group.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 5}
    (role,) = [r for r in pulumi_mocks.of_type("aws:iam/role:Role", "clpriv-nodes")]
    assert group.inputs["nodeRoleArn"] == role.state["arn"]
    attached = {
        a.inputs["policyArn"]
        for a in pulumi_mocks.of_type(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "clpriv-nodes"
        )
    }
    assert "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy" in attached


def test_efs_csi_addon_uses_an_irsa_role_trusted_through_the_clusters_oidc_provider(
    pulumi_mocks, clusters
):
    cluster = eks_cluster(pulumi_mocks, "clpriv")
    (addon,) = pulumi_mocks.of_type("aws:eks/addon:Addon", "clpriv-efs-csi")
    (role,) = pulumi_mocks.of_type("aws:iam/role:Role", "clpriv-efs-csi")
    assert addon.inputs["addonName"] == "aws-efs-csi-driver"
    assert addon.inputs["clusterName"] == "clpriv"
    assert addon.inputs["serviceAccountRoleArn"] == role.state["arn"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"]["Federated"] == cluster.state["oidcProviderArn"]
    issuer = cluster.state["oidcProviderUrl"].removeprefix("https://")
    assert statement["Condition"]["StringLike"][f"{issuer}:sub"] == (
        "system:serviceaccount:kube-system:efs-csi-*"
    )
    (attachment,) = pulumi_mocks.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "clpriv-efs-csi"
    )
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
    )


def test_namespace_and_provider_come_from_the_clusters_kubeconfig(pulumi_mocks, clusters):
    (namespace,) = pulumi_mocks.of_type("kubernetes:core/v1:Namespace", "clpriv")
    (provider,) = pulumi_mocks.of_type("pulumi:providers:kubernetes", "clpriv")
    assert namespace.inputs["metadata"]["name"] == "liminal-apps"
    assert namespace.provider.startswith(provider.urn)
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
    cluster = eks_cluster(pulumi_mocks, "clpriv")
    assert json.loads(provider.inputs["kubeconfig"]) == json.loads(cluster.state["kubeconfigJson"])
    assert resolve(clusters["private"].namespace) == "liminal-apps"


def test_outputs_describe_the_cluster(pulumi_mocks, clusters):
    component = clusters["private"]
    cluster = eks_cluster(pulumi_mocks, "clpriv")
    assert resolve(component.cluster_name) == "clpriv"
    assert resolve(component.cluster_arn) == ("arn:aws:eks:us-east-1:123456789012:cluster/clpriv")
    assert resolve(component.endpoint).startswith("https://")
    assert resolve(component.certificate_authority) == MOCK_CA_DATA
    assert resolve(component.node_security_group_id) == cluster.state["nodeSecurityGroupId"]
    assert resolve(component.cluster_security_group_id) == (cluster.state["clusterSecurityGroupId"])
    assert resolve(component.oidc_provider_arn) == cluster.state["oidcProviderArn"]
    kubeconfig = yaml.safe_load(resolve(component.kubeconfig))
    assert kubeconfig["clusters"][0]["cluster"]["server"] == resolve(component.endpoint)


def test_kubeconfig_output_is_secret(clusters):
    assert is_secret(clusters["private"].kubeconfig)


def test_protection_follows_the_setting(pulumi_mocks, clusters):
    unprotected = pulumi_mocks.under("clpriv")
    assert not any(r.protect or r.retain_on_delete for r in unprotected)
    assert eks_cluster(pulumi_mocks, "clpub").protect is True
    assert eks_cluster(pulumi_mocks, "clpub").inputs["deletionProtection"] is True
    assert eks_cluster(pulumi_mocks, "clpriv").inputs["deletionProtection"] is False
    (key,) = pulumi_mocks.of_type("aws:kms/key:Key", "clpub")
    assert key.protect is True
    assert key.retain_on_delete is True


def test_kubernetes_provider_receives_the_kubeconfig_as_a_secret(pulumi_mocks, clusters):
    (provider,) = pulumi_mocks.of_type("pulumi:providers:kubernetes", "clpriv")
    assert "kubeconfig" in provider.secret_inputs


@pytest.mark.parametrize(
    ("types", "ami"),
    [
        (("t3.large", "m6i.xlarge"), "AL2023_x86_64_STANDARD"),
        (("m7g.large", "c6gd.xlarge", "t4g.medium"), "AL2023_ARM_64_STANDARD"),
    ],
)
def test_node_ami_follows_the_instance_architecture(types, ami):
    assert node_ami_type(types) == ami


def test_mixed_architectures_are_refused_before_any_resource(pulumi_mocks):
    with pytest.raises(ValueError, match="all be x86_64 or all be Graviton"):
        run(
            lambda: Cluster(
                "clmixed",
                ClusterArgs(
                    vpc_id="vpc-1",
                    private_subnet_ids=["a", "b"],
                    public_subnet_ids=["c", "d"],
                    instance_types=("m6i.large", "m7g.large"),
                ),
            )
        )
    assert pulumi_mocks.under("clmixed-") == []


def test_metrics_server_addon_feeds_the_services_autoscalers(pulumi_mocks, clusters):
    eks_cluster(pulumi_mocks, "clpriv")
    (addon,) = pulumi_mocks.of_type("aws:eks/addon:Addon", "clpriv-metrics-server")
    assert addon.inputs["addonName"] == "metrics-server"
    assert addon.inputs["clusterName"] == "clpriv"
    (node_group,) = pulumi_mocks.of_type("aws:eks/nodeGroup:NodeGroup", "clpriv")
    assert node_group.urn in addon.dependencies
