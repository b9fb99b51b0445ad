from liminal_policy import eks

CLUSTER = {
    "roleArn": "arn:aws:iam::1:role/eks",
    "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:k"}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager"],
    "vpcConfig": {
        "subnetIds": ["a", "b"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    },
    "accessConfig": {"authenticationMode": "API"},
}


def test_hardened_cluster_is_compliant():
    assert eks.check_cluster(CLUSTER) == []


def test_public_endpoint_limited_by_cidr_is_compliant_but_open_to_world_is_not():
    limited = CLUSTER | {
        "vpcConfig": {
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
        }
    }
    assert eks.check_cluster(limited) == []
    for vpc in (
        {
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        {"endpointPrivateAccess": True},  # AWS default: public to the world
    ):
        (problem,) = eks.check_cluster(CLUSTER | {"vpcConfig": vpc})
        assert "public cluster endpoint" in problem


def test_cluster_without_encryption_logs_private_endpoint_or_api_auth():
    problems = eks.check_cluster(
        {
            "encryptionConfig": {"resources": ["secrets"]},
            "enabledClusterLogTypes": ["api"],
            "vpcConfig": {"endpointPrivateAccess": False, "endpointPublicAccess": False},
            "accessConfig": {"authenticationMode": "CONFIG_MAP"},
        }
    )
    assert len(problems) == 4
    assert any("audit, authenticator" in p for p in problems)
    assert any("CONFIG_MAP" in p for p in problems)


def test_pulumi_eks_component_inputs():
    component = {
        "encryptionConfigKeyArn": "arn:aws:kms:k",
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "authenticationMode": "API",
        "createOidcProvider": True,
    }
    assert eks.check_pulumi_eks_cluster(component) == []
    problems = eks.check_pulumi_eks_cluster(
        component | {"createOidcProvider": False, "encryptionConfigKeyArn": None}
    )
    assert len(problems) == 2


def test_launch_templates_must_require_imdsv2():
    assert eks.check_launch_template({"metadataOptions": {"httpTokens": "required"}}) == []
    assert (
        "optional" in eks.check_launch_template({"metadataOptions": {"httpTokens": "optional"}})[0]
    )
    assert eks.check_launch_template({}) != []


def test_node_groups_need_a_launch_template_or_imdsv2_flag():
    assert eks.check_node_group({"launchTemplate": {"id": "lt-1", "version": "1"}}) == []
    assert eks.check_node_group({"clusterName": "c"}) != []
    assert eks.check_pulumi_eks_managed_node_group({"enableIMDSv2": True}) == []
    assert eks.check_pulumi_eks_managed_node_group({"enableIMDSv2": False}) != []
