"""EKS: encrypted secrets, control-plane logs, private endpoint, IMDSv2 on every node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .resources import as_list, mapping

REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def _endpoint_problems(
    private_access: Any, public_access: Any, public_cidrs: Sequence[Any] | None
) -> list[str]:
    problems = []
    if private_access is not True:
        problems.append("the cluster endpoint must be reachable privately (endpointPrivateAccess)")
    # AWS turns the public endpoint on when the input is left unset.
    if public_access is not False:
        cidrs = [str(cidr) for cidr in as_list(public_cidrs)]
        if not cidrs or WORLD_CIDRS.intersection(cidrs):
            problems.append(
                "the public cluster endpoint must be off or limited to known CIDRs "
                "(endpointPublicAccess=False, or publicAccessCidrs without 0.0.0.0/0)"
            )
    return problems


def _log_problems(log_types: Any) -> list[str]:
    enabled = {str(kind) for kind in as_list(log_types)}
    missing = [kind for kind in REQUIRED_LOG_TYPES if kind not in enabled]
    if not missing:
        return []
    required = ", ".join(REQUIRED_LOG_TYPES)
    return [f"control-plane logs must include {required}; missing: {', '.join(missing)}"]


def _authentication_problems(mode: Any) -> list[str]:
    if mode == "API":
        return []
    return [
        f"authentication mode must be API (access entries, no aws-auth ConfigMap), not {mode!r}"
    ]


def check_cluster(props: Mapping[str, Any]) -> list[str]:
    """An `aws.eks.Cluster` (also what pulumi-eks creates inside its component)."""
    problems = []
    encryption = mapping(props.get("encryptionConfig"))
    if "secrets" not in [str(r) for r in as_list(encryption.get("resources"))] or not mapping(
        encryption.get("provider")
    ).get("keyArn"):
        problems.append("Kubernetes secrets must be encrypted with a KMS key (encryptionConfig)")
    problems += _log_problems(props.get("enabledClusterLogTypes"))
    vpc = mapping(props.get("vpcConfig"))
    problems += _endpoint_problems(
        vpc.get("endpointPrivateAccess"),
        vpc.get("endpointPublicAccess"),
        vpc.get("publicAccessCidrs"),
    )
    problems += _authentication_problems(
        mapping(props.get("accessConfig")).get("authenticationMode")
    )
    return problems


def check_pulumi_eks_cluster(props: Mapping[str, Any]) -> list[str]:
    """A pulumi-eks `eks.Cluster` component, on its own (flatter) inputs."""
    problems = []
    if not props.get("encryptionConfigKeyArn"):
        problems.append(
            "Kubernetes secrets must be encrypted with a KMS key (encryptionConfigKeyArn)"
        )
    problems += _log_problems(props.get("enabledClusterLogTypes"))
    problems += _endpoint_problems(
        props.get("endpointPrivateAccess"),
        props.get("endpointPublicAccess"),
        props.get("publicAccessCidrs"),
    )
    problems += _authentication_problems(props.get("authenticationMode"))
    if props.get("createOidcProvider") is not True:
        problems.append("the cluster needs its OIDC provider (createOidcProvider) for IRSA")
    return problems


def check_launch_template(props: Mapping[str, Any]) -> list[str]:
    tokens = mapping(props.get("metadataOptions")).get("httpTokens")
    if tokens == "required":
        return []
    return [
        f"instances must require IMDSv2 (metadataOptions.httpTokens='required'), not {tokens!r}"
    ]


def check_node_group(props: Mapping[str, Any]) -> list[str]:
    """An `aws.eks.NodeGroup`: IMDSv2 can only be required through a launch template."""
    template = mapping(props.get("launchTemplate"))
    if template.get("id") or template.get("name"):
        return []
    return ["the node group must use a launch template that requires IMDSv2 (launchTemplate)"]


def check_pulumi_eks_managed_node_group(props: Mapping[str, Any]) -> list[str]:
    if props.get("enableIMDSv2") is True or mapping(props.get("launchTemplate")):
        return []
    return ["the managed node group must require IMDSv2 (enable_imd_sv2=True)"]
