"""Network: nothing open to the internet except load balancers, the default group closed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .resources import (
    ALB_LOAD_BALANCER,
    CLASSIC_LOAD_BALANCER,
    EC2_SECURITY_GROUP,
    EC2_SECURITY_GROUP_RULE,
    LB_LOAD_BALANCER,
    VPC_INGRESS_RULE,
    Resource,
    Violation,
    as_list,
    mapping,
)

WORLD_IPV4 = "0.0.0.0/0"
WORLD_IPV6 = "::/0"
# A group that fronts a public load balancer created outside this stack (e.g. by the AWS Load
# Balancer Controller) declares it with this tag; groups attached to a load balancer of the stack
# are recognised without it.
PUBLIC_LOAD_BALANCER_TAG = ("liminal:exposure", "public-load-balancer")
LOAD_BALANCER_TYPES = frozenset({LB_LOAD_BALANCER, ALB_LOAD_BALANCER, CLASSIC_LOAD_BALANCER})


def _opens_to_world(ipv4: Any, ipv6: Any) -> bool:
    return WORLD_IPV4 in [str(c) for c in as_list(ipv4)] or WORLD_IPV6 in [
        str(c) for c in as_list(ipv6)
    ]


def _port_range(rule: Mapping[str, Any]) -> str:
    return f"{rule.get('fromPort')}-{rule.get('toPort')}"


def check_default_security_group(props: Mapping[str, Any]) -> list[str]:
    if as_list(props.get("ingress")) or as_list(props.get("egress")):
        return ["the VPC's default security group must have no rules (it is closed, not used)"]
    return []


def _load_balancer_groups(resources: Sequence[Resource]) -> set[str]:
    """URNs of the security groups that load balancers of the stack use, or that carry the tag."""
    groups = {r.urn for r in resources if r.type == EC2_SECURITY_GROUP and _tagged_public(r)}
    for balancer in resources:
        if balancer.type in LOAD_BALANCER_TYPES:
            groups.update(balancer.dependencies.get("securityGroups", ()))
    return groups


def _tagged_public(group: Resource) -> bool:
    key, value = PUBLIC_LOAD_BALANCER_TAG
    return mapping(group.props.get("tags")).get(key) == value


def _group_of(rule: Resource, groups: Sequence[Resource]) -> Resource | None:
    for group in groups:
        if rule.refers_to(group, "securityGroupId", ("id", "name")):
            return group
    return None


def check_world_ingress(resources: Sequence[Resource]) -> list[Violation]:
    """Ingress from 0.0.0.0/0 or ::/0, inline or as separate rules, outside load balancers."""
    groups = [r for r in resources if r.type == EC2_SECURITY_GROUP]
    allowed = _load_balancer_groups(resources)
    violations = []
    for resource in resources:
        if resource.type == EC2_SECURITY_GROUP:
            if resource.urn in allowed:
                continue
            for rule in as_list(resource.props.get("ingress")):
                rule = mapping(rule)
                if _opens_to_world(rule.get("cidrBlocks"), rule.get("ipv6CidrBlocks")):
                    violations.append(_world_violation(resource, _port_range(rule)))
            continue
        if resource.type == EC2_SECURITY_GROUP_RULE:
            if resource.props.get("type") != "ingress":
                continue
            world = _opens_to_world(
                resource.props.get("cidrBlocks"), resource.props.get("ipv6CidrBlocks")
            )
        elif resource.type == VPC_INGRESS_RULE:
            world = _opens_to_world(resource.props.get("cidrIpv4"), resource.props.get("cidrIpv6"))
        else:
            continue
        group = _group_of(resource, groups)
        if world and (group is None or group.urn not in allowed):
            violations.append(_world_violation(resource, _port_range(resource.props)))
    return violations


def _world_violation(resource: Resource, ports: str) -> Violation:
    return Violation(
        f"{resource.name} admits the whole internet (0.0.0.0/0 or ::/0) on ports {ports}; "
        "only a load balancer's security group may",
        resource.urn,
    )
