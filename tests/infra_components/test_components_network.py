import ipaddress
import json

import pytest

from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.plans.checks import ComponentArgumentError
from liminal_pulumi.testing import resolve, run

TAGS = {"liminal:stack": "test"}


@pytest.fixture(scope="module")
def networks(pulumi_mocks):
    def program():
        return {
            "single": Network("netsingle", NetworkArgs(cidr="10.1.0.0/16", tags=TAGS)),
            "per_az": Network(
                "netperaz",
                NetworkArgs(cidr="10.2.0.0/16", az_count=3, nat_strategy="per_az", tags=TAGS),
            ),
        }

    return run(program)


def test_component_has_its_type_and_parents_every_child(pulumi_mocks, networks):
    (component,) = pulumi_mocks.of_type("liminal:aws:Network", "netsingle")
    children = [r for r in pulumi_mocks.under("netsingle-")]
    assert children
    assert all(child.parent == component.urn for child in children)


def test_vpc_resolves_names_in_dns(pulumi_mocks, networks):
    (vpc,) = pulumi_mocks.of_type("aws:ec2/vpc:Vpc", "netsingle")
    assert vpc.inputs["cidrBlock"] == "10.1.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["tags"]["liminal:stack"] == "test"
    assert resolve(networks["single"].vpc_id) == vpc.id


def test_default_security_group_is_closed(pulumi_mocks, networks):
    (group,) = pulumi_mocks.of_type(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "netsingle"
    )
    assert group.inputs.get("ingress", []) == []
    assert group.inputs.get("egress", []) == []


def test_subnets_span_distinct_azs_and_no_subnet_maps_public_ips(pulumi_mocks, networks):
    subnets = pulumi_mocks.of_type("aws:ec2/subnet:Subnet", "netperaz")
    assert len(subnets) == 6
    private = [s for s in subnets if "-private-" in s.name]
    public = [s for s in subnets if "-public-" in s.name]
    assert len({s.inputs["availabilityZone"] for s in private}) == 3
    assert len({s.inputs["availabilityZone"] for s in public}) == 3
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    vpc = ipaddress.IPv4Network("10.2.0.0/16")
    assert all(ipaddress.IPv4Network(s.inputs["cidrBlock"]).subnet_of(vpc) for s in subnets)
    assert resolve(networks["per_az"].private_subnet_ids) == [s.id for s in private]
    assert resolve(networks["per_az"].public_subnet_ids) == [s.id for s in public]


def _nat_of_private_route(pulumi_mocks, prefix):
    routes = pulumi_mocks.of_type("aws:ec2/route:Route", f"{prefix}-private-default-")
    return {r.name: r.inputs["natGatewayId"] for r in routes}


def test_single_nat_strategy_routes_every_private_subnet_through_one_nat(pulumi_mocks, networks):
    nats = pulumi_mocks.of_type("aws:ec2/natGateway:NatGateway", "netsingle")
    assert len(nats) == 1
    assert set(_nat_of_private_route(pulumi_mocks, "netsingle").values()) == {nats[0].id}


def test_per_az_nat_strategy_gives_each_az_its_own_nat(pulumi_mocks, networks):
    nats = pulumi_mocks.of_type("aws:ec2/natGateway:NatGateway", "netperaz")
    assert len(nats) == 3
    routes = _nat_of_private_route(pulumi_mocks, "netperaz")
    assert len(set(routes.values())) == 3
    public_subnets = {
        s.id: s.inputs["availabilityZone"]
        for s in pulumi_mocks.of_type("aws:ec2/subnet:Subnet", "netperaz-public")
    }
    assert {public_subnets[n.inputs["subnetId"]] for n in nats} == set(public_subnets.values())


def test_private_subnets_are_associated_with_their_own_route_tables(pulumi_mocks, networks):
    associations = pulumi_mocks.of_type(
        "aws:ec2/routeTableAssociation:RouteTableAssociation", "netperaz-private"
    )
    private_ids = {s.id for s in pulumi_mocks.of_type("aws:ec2/subnet:Subnet", "netperaz-private")}
    assert {a.inputs["subnetId"] for a in associations} == private_ids
    assert len({a.inputs["routeTableId"] for a in associations}) == 3


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group_with_retention(
    pulumi_mocks, networks
):
    (flow_log,) = pulumi_mocks.of_type("aws:ec2/flowLog:FlowLog", "netsingle")
    (vpc,) = pulumi_mocks.of_type("aws:ec2/vpc:Vpc", "netsingle")
    (group,) = pulumi_mocks.of_type("aws:cloudwatch/logGroup:LogGroup", "netsingle")
    (key,) = pulumi_mocks.of_type("aws:kms/key:Key", "netsingle")
    (role,) = pulumi_mocks.of_type("aws:iam/role:Role", "netsingle")
    assert flow_log.inputs["vpcId"] == vpc.id
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestination"] == group.state["arn"]
    assert flow_log.inputs["iamRoleArn"] == role.state["arn"]
    assert group.inputs["retentionInDays"] == 90
    assert group.inputs["kmsKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"]["Service"] == ["vpc-flow-logs.amazonaws.com"]


def test_bad_settings_fail_before_any_resource(pulumi_mocks):
    with pytest.raises(ComponentArgumentError) as caught:
        run(
            lambda: Network(
                "netbad", NetworkArgs(nat_strategy="both", az_count=9, cidr="10.0.0.1/16")
            )
        )
    assert caught.value.problems == (
        "nat_strategy: 'both' is not allowed; use one of single, per_az",
        "az_count: 9 is out of range 2 to 6",
        "cidr: '10.0.0.1/16' is not an IPv4 network: 10.0.0.1/16 has host bits set",
    )
    assert pulumi_mocks.under("netbad-") == []


def test_a_range_too_small_for_the_subnets_names_the_cidr(pulumi_mocks):
    with pytest.raises(ComponentArgumentError, match="cidr: "):
        run(lambda: Network("netsmall", NetworkArgs(cidr="10.0.0.0/27", az_count=6)))
    assert pulumi_mocks.under("netsmall-") == []
