import ipaddress

import pytest

from liminal_pulumi.plans.network_plan import MAX_AZ_COUNT, plan_network


def networks(cidrs):
    return [ipaddress.IPv4Network(c) for c in cidrs]


@pytest.mark.parametrize("az_count", [2, 3, 4, 6])
def test_subnets_lie_inside_the_vpc_and_never_overlap(az_count):
    plan = plan_network("10.0.0.0/16", az_count, "per_az")
    vpc = ipaddress.IPv4Network("10.0.0.0/16")
    subnets = networks(plan.private_cidrs + plan.public_cidrs)
    assert len(subnets) == 2 * az_count
    assert all(s.subnet_of(vpc) for s in subnets)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_private_subnets_are_larger_than_public_ones():
    plan = plan_network("10.0.0.0/16", 2, "single")
    private = networks(plan.private_cidrs)
    public = networks(plan.public_cidrs)
    assert min(p.num_addresses for p in private) > max(p.num_addresses for p in public)


def test_adding_an_az_keeps_existing_subnets_in_place():
    two = plan_network("10.20.0.0/16", 2, "single")
    three = plan_network("10.20.0.0/16", 3, "single")
    assert three.private_cidrs[:2] == two.private_cidrs
    assert three.public_cidrs[:2] == two.public_cidrs


def test_single_nat_serves_every_private_subnet():
    plan = plan_network("10.0.0.0/16", 3, "single")
    assert plan.nat_az_indexes == (0,)
    assert {s.nat_index for s in plan.subnets} == {0}


def test_per_az_nat_keeps_each_private_subnet_in_its_own_az():
    plan = plan_network("10.0.0.0/16", 3, "per_az")
    assert plan.nat_az_indexes == (0, 1, 2)
    assert [s.nat_index for s in plan.subnets] == [s.az_index for s in plan.subnets]


@pytest.mark.parametrize(
    ("cidr", "az_count", "nat", "message"),
    [
        ("10.0.0.0/33", 2, "single", "not a valid IPv4 network"),
        ("10.0.0.1/16", 2, "single", "not a valid IPv4 network"),
        ("10.0.0.0/16", 1, "single", "out of range"),
        ("10.0.0.0/16", MAX_AZ_COUNT + 1, "single", "out of range"),
        ("10.0.0.0/16", 2, "two", "NAT strategy 'two' is unknown"),
        ("10.0.0.0/24", 2, "single", "too small"),
    ],
)
def test_impossible_layouts_are_refused_with_the_reason(cidr, az_count, nat, message):
    with pytest.raises(ValueError, match=message):
        plan_network(cidr, az_count, nat)
