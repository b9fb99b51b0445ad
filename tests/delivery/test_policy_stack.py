"""Stack-level policies: companion resources, world-open ingress, protection."""

from liminal_policy import network
from liminal_policy.companions import BUCKET_COMPANIONS, VPC_COMPANIONS, missing_companions
from liminal_policy.protection import check_protected
from liminal_policy.resources import (
    EC2_FLOW_LOG,
    EC2_SECURITY_GROUP,
    EC2_SECURITY_GROUP_RULE,
    EC2_VPC,
    ECR_REPOSITORY,
    EFS_FILE_SYSTEM,
    EKS_CLUSTER,
    LB_LOAD_BALANCER,
    S3_BUCKET,
    VPC_INGRESS_RULE,
    Resource,
)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::liminal::{type_}::{name}"


def resource(type_: str, name: str, props=None, **kwargs) -> Resource:
    return Resource(type=type_, urn=urn(type_, name), name=name, props=props or {}, **kwargs)


BUCKET = resource(S3_BUCKET, "mwaa", {"bucket": "liminal-dev-mwaa"})


def companions_of(bucket: Resource, skip: str = "") -> list[Resource]:
    return [
        resource(c.type, f"{bucket.name}-{i}", {c.link: None}, dependencies={c.link: (bucket.urn,)})
        for i, c in enumerate(BUCKET_COMPANIONS.companions)
        if c.type != skip
    ]


def test_bucket_with_all_companions_linked_by_output_is_compliant():
    assert missing_companions([BUCKET, *companions_of(BUCKET)], BUCKET_COMPANIONS) == []


def test_each_missing_bucket_companion_is_reported_on_the_bucket():
    for companion in BUCKET_COMPANIONS.companions:
        (violation,) = missing_companions(
            [BUCKET, *companions_of(BUCKET, skip=companion.type)], BUCKET_COMPANIONS
        )
        assert violation.urn == BUCKET.urn
        assert companion.what in violation.message


def test_companion_linked_by_literal_name_counts_but_one_of_another_bucket_does_not():
    other = resource(S3_BUCKET, "other", {"bucket": "other-bucket"})
    literal = [
        resource(c.type, f"lit-{i}", {c.link: "liminal-dev-mwaa"})
        for i, c in enumerate(BUCKET_COMPANIONS.companions)
    ]
    violations = missing_companions([BUCKET, other, *literal], BUCKET_COMPANIONS)
    assert {v.urn for v in violations} == {other.urn}
    assert len(violations) == len(BUCKET_COMPANIONS.companions)


def test_vpc_without_flow_logs_is_a_violation():
    vpc = resource(EC2_VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    flow_log = resource(
        EC2_FLOW_LOG, "vpc-flow", {"trafficType": "ALL"}, dependencies={"vpcId": (vpc.urn,)}
    )
    assert missing_companions([vpc, flow_log], VPC_COMPANIONS) == []
    (violation,) = missing_companions([vpc], VPC_COMPANIONS)
    assert "flow logs" in violation.message


def _group(name, ingress=(), tags=None):
    return resource(EC2_SECURITY_GROUP, name, {"ingress": list(ingress), "tags": tags or {}})


WORLD_HTTPS = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}
PRIVATE_NFS = {"protocol": "tcp", "fromPort": 2049, "toPort": 2049, "cidrBlocks": ["10.0.0.0/16"]}


def test_private_ingress_is_compliant_and_world_ingress_is_not():
    assert network.check_world_ingress([_group("efs", [PRIVATE_NFS])]) == []
    (violation,) = network.check_world_ingress([_group("nodes", [PRIVATE_NFS, WORLD_HTTPS])])
    assert violation.urn == urn(EC2_SECURITY_GROUP, "nodes") and "443-443" in violation.message
    ipv6 = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]}
    assert len(network.check_world_ingress([_group("ssh", [ipv6])])) == 1


def test_load_balancer_groups_may_admit_the_world():
    lb_group = _group("alb", [WORLD_HTTPS])
    balancer = resource(
        LB_LOAD_BALANCER,
        "alb",
        {"internal": False},
        dependencies={"securityGroups": (lb_group.urn,)},
    )
    assert network.check_world_ingress([lb_group, balancer]) == []
    tagged = _group("ingress-lb", [WORLD_HTTPS], tags={"liminal:exposure": "public-load-balancer"})
    assert network.check_world_ingress([tagged]) == []


def test_separate_rules_are_checked_against_their_group():
    group = _group("nodes")
    rule = resource(
        EC2_SECURITY_GROUP_RULE,
        "nodes-https",
        {"type": "ingress", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        dependencies={"securityGroupId": (group.urn,)},
    )
    egress = resource(
        EC2_SECURITY_GROUP_RULE, "nodes-out", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]}
    )
    vpc_rule = resource(
        VPC_INGRESS_RULE, "nodes-http", {"cidrIpv4": "0.0.0.0/0", "fromPort": 80, "toPort": 80}
    )
    violations = network.check_world_ingress([group, rule, egress, vpc_rule])
    assert {v.urn for v in violations} == {rule.urn, vpc_rule.urn}
    lb_group = _group("alb", tags={"liminal:exposure": "public-load-balancer"})
    lb_rule = resource(
        VPC_INGRESS_RULE,
        "alb-https",
        {"cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"},
        dependencies={"securityGroupId": (lb_group.urn,)},
    )
    assert network.check_world_ingress([lb_group, lb_rule]) == []


def test_default_security_group_must_be_closed():
    assert network.check_default_security_group({"vpcId": "vpc"}) == []
    assert (
        network.check_default_security_group({"ingress": [{"self": True, "protocol": "-1"}]}) != []
    )


def test_stateful_resources_must_be_protected():
    for stateful in (S3_BUCKET, EFS_FILE_SYSTEM, ECR_REPOSITORY):
        assert check_protected(stateful, protect=True) == []
        assert check_protected(stateful, protect=False) != []
    assert check_protected(EKS_CLUSTER, protect=False) == []
