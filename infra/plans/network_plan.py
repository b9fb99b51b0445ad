"""Subnet CIDR layout across availability zones and which NAT gateway each private subnet uses.

The VPC range is cut in two halves: the first holds the private subnets (where nodes, pods, EFS
mount targets and MWAA live, so they get the larger blocks), the second the public subnets
(load balancers and NAT gateways only). Each half is split into slots for the most AZs supported,
so adding an AZ later never moves an existing subnet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from liminal_pulumi.defaults import NAT_STRATEGIES

MIN_AZ_COUNT = 2  # MWAA and EKS both need subnets in two AZs
MAX_AZ_COUNT = 6
# Public subnets get a quarter of a private subnet's size: they only hold NATs and load balancers.
PUBLIC_SUBNET_SHRINK_BITS = 2
SMALLEST_SUBNET_PREFIX = 28  # the smallest subnet AWS allows


@dataclass(frozen=True)
class SubnetPair:
    az_index: int
    private_cidr: str
    public_cidr: str
    # Index of the public subnet (= AZ index) whose NAT gateway the private subnet routes through.
    nat_index: int


@dataclass(frozen=True)
class NetworkPlan:
    vpc_cidr: str
    subnets: tuple[SubnetPair, ...]
    # AZ indexes that get a NAT gateway in their public subnet.
    nat_az_indexes: tuple[int, ...]

    @property
    def private_cidrs(self) -> tuple[str, ...]:
        return tuple(s.private_cidr for s in self.subnets)

    @property
    def public_cidrs(self) -> tuple[str, ...]:
        return tuple(s.public_cidr for s in self.subnets)


def plan_network(cidr: str, az_count: int, nat_strategy: str) -> NetworkPlan:
    """Lay out one private and one public subnet per AZ; raise ValueError on an impossible ask."""
    try:
        vpc = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError as error:
        raise ValueError(f"VPC CIDR {cidr!r} is not a valid IPv4 network: {error}") from None
    if not MIN_AZ_COUNT <= az_count <= MAX_AZ_COUNT:
        raise ValueError(
            f"AZ count {az_count} is out of range: use {MIN_AZ_COUNT} to {MAX_AZ_COUNT}"
        )
    if nat_strategy not in NAT_STRATEGIES:
        raise ValueError(
            f"NAT strategy {nat_strategy!r} is unknown: use one of {', '.join(NAT_STRATEGIES)}"
        )
    slot_bits = (MAX_AZ_COUNT - 1).bit_length()
    private_prefix = vpc.prefixlen + 1 + slot_bits
    public_prefix = private_prefix + PUBLIC_SUBNET_SHRINK_BITS
    if public_prefix > SMALLEST_SUBNET_PREFIX:
        raise ValueError(
            f"VPC CIDR {cidr!r} is too small for {az_count} AZs: public subnets would be "
            f"/{public_prefix}, smaller than /{SMALLEST_SUBNET_PREFIX}; use a larger range"
        )
    private_half, public_half = vpc.subnets(prefixlen_diff=1)
    private_blocks = list(private_half.subnets(new_prefix=private_prefix))
    public_blocks = list(public_half.subnets(new_prefix=public_prefix))
    nat_az_indexes = tuple(range(az_count)) if nat_strategy == "per_az" else (0,)
    subnets = tuple(
        SubnetPair(
            az_index=index,
            private_cidr=str(private_blocks[index]),
            public_cidr=str(public_blocks[index]),
            nat_index=index if nat_strategy == "per_az" else 0,
        )
        for index in range(az_count)
    )
    return NetworkPlan(vpc_cidr=str(vpc), subnets=subnets, nat_az_indexes=nat_az_indexes)
