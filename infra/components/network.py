"""Network: a VPC with public and private subnets across AZs, NAT, flow logs, closed default SG."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from functools import partial

import pulumi
import pulumi_aws as aws

from liminal_pulumi import defaults
from liminal_pulumi.components._options import child, merged_tags
from liminal_pulumi.components.connections import ExistingNetwork
from liminal_pulumi.plans import iam_policies
from liminal_pulumi.plans.checks import Problems
from liminal_pulumi.plans.network_plan import MAX_AZ_COUNT, MIN_AZ_COUNT, NetworkPlan, plan_network


@dataclass(frozen=True)
class NetworkArgs:
    """Arguments of `Network`; every one has a default.

    Attributes:
        cidr: the VPC's IPv4 range, `/16` to `/20` for room (default `defaults.VPC_CIDR`,
            10.0.0.0/16). The first half holds the private subnets, the second the public ones
            (`liminal_pulumi.plans.network_plan`). Refused: an invalid network, or one too small
            for the subnets.
        az_count: availability zones to spread over, 2 to 6 (default `defaults.AZ_COUNT`, 2):
            one private and one public subnet in each. EKS and MWAA both need two AZs.
        nat_strategy: `single` (one NAT gateway for every private subnet, cheaper) or `per_az`
            (one per AZ: an AZ outage leaves the others' egress up); default
            `defaults.NAT_STRATEGY`, `single`. Allowed values: `defaults.NAT_STRATEGIES`.
        flow_log_retention_days: days the VPC flow logs are kept (default
            `defaults.FLOW_LOG_RETENTION_DAYS`, 90); a value CloudWatch Logs accepts.
        tags: tags on every resource (default none).
    """

    cidr: str = defaults.VPC_CIDR
    az_count: int = defaults.AZ_COUNT
    nat_strategy: str = defaults.NAT_STRATEGY  # 'single' | 'per_az'
    flow_log_retention_days: int = defaults.FLOW_LOG_RETENTION_DAYS
    tags: dict[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """A VPC for the platform (type `liminal:aws:Network`).

    Creates the VPC (DNS on), its default security group stripped of every rule, an internet
    gateway, per AZ a public and a private subnet (no public IPs on launch; tagged for internal
    and public load balancers), NAT gateways as `nat_strategy` says with their elastic IPs, route
    tables, and VPC flow logs (all traffic) into a KMS-encrypted log group.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        vpc_id: the VPC's id.
        public_subnet_ids: the public subnets' ids, one per AZ, in AZ order.
        private_subnet_ids: the private subnets' ids, one per AZ, in AZ order.
        nat_gateway_ids: the NAT gateways' ids.
        flow_log_group_name: the CloudWatch log group of the flow logs.
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    nat_gateway_ids: list[pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        plan = _checked_plan(name, args)  # before anything is registered
        super().__init__("liminal:aws:Network", name, None, opts)
        tags = args.tags
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=merged_tags(tags, Name=f"{name}-vpc"),
            opts=child(self),
        )
        # Adopt the VPC's default security group and strip every rule: nothing may use it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=merged_tags(tags, Name=f"{name}-default-closed"),
            opts=child(self),
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=merged_tags(tags, Name=name), opts=child(self)
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            tags=merged_tags(tags, Name=f"{name}-public"),
            opts=child(self),
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            opts=child(self),
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for pair in plan.subnets:
            zone = zones.names.apply(partial(_zone, pair.az_index))
            public = aws.ec2.Subnet(
                f"{name}-public-{pair.az_index}",
                vpc_id=vpc.id,
                cidr_block=pair.public_cidr,
                availability_zone=zone,
                # Only load balancers and NATs live here; nothing gets a public IP by default.
                map_public_ip_on_launch=False,
                tags=merged_tags(
                    tags, Name=f"{name}-public-{pair.az_index}", **{"kubernetes.io/role/elb": "1"}
                ),
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{pair.az_index}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=child(self),
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{pair.az_index}",
                vpc_id=vpc.id,
                cidr_block=pair.private_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=merged_tags(
                    tags,
                    Name=f"{name}-private-{pair.az_index}",
                    **{"kubernetes.io/role/internal-elb": "1"},
                ),
                opts=child(self),
            )
            public_subnets.append(public)
            private_subnets.append(private)

        nats: dict[int, aws.ec2.NatGateway] = {}
        for az_index in plan.nat_az_indexes:
            address = aws.ec2.Eip(
                f"{name}-nat-{az_index}",
                domain="vpc",
                tags=merged_tags(tags, Name=f"{name}-nat-{az_index}"),
                opts=child(self),
            )
            nats[az_index] = aws.ec2.NatGateway(
                f"{name}-nat-{az_index}",
                allocation_id=address.id,
                subnet_id=public_subnets[az_index].id,
                tags=merged_tags(tags, Name=f"{name}-nat-{az_index}"),
                opts=child(self, depends_on=[gateway]),
            )
        for pair, private in zip(plan.subnets, private_subnets, strict=True):
            routes = aws.ec2.RouteTable(
                f"{name}-private-rt-{pair.az_index}",
                vpc_id=vpc.id,
                tags=merged_tags(tags, Name=f"{name}-private-{pair.az_index}"),
                opts=child(self),
            )
            aws.ec2.Route(
                f"{name}-private-default-{pair.az_index}",
                route_table_id=routes.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[pair.nat_index].id,
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{pair.az_index}",
                subnet_id=private.id,
                route_table_id=routes.id,
                opts=child(self),
            )

        log_group = self._flow_logs(name, args, vpc.id)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.nat_gateway_ids = [nats[i].id for i in plan.nat_az_indexes]
        self.flow_log_group_name = log_group.name
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "nat_gateway_ids": self.nat_gateway_ids,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def as_existing(self) -> ExistingNetwork:
        """This VPC and its subnets, as `LiminalPlatform` and the other components take them."""
        return ExistingNetwork(
            vpc_id=self.vpc_id,
            private_subnet_ids=tuple(self.private_subnet_ids),
            public_subnet_ids=tuple(self.public_subnet_ids),
        )

    def _flow_logs(
        self, name: str, args: NetworkArgs, vpc_id: pulumi.Output[str]
    ) -> aws.cloudwatch.LogGroup:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)
        key = aws.kms.Key(
            f"{name}-flow-logs",
            description=f"Encrypts the VPC flow logs of {name}",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.all(partition.partition, region.region, identity.account_id).apply(
                lambda values: json.dumps(
                    iam_policies.logs_kms_key_policy(
                        partition=values[0], region=values[1], account_id=values[2]
                    )
                )
            ),
            tags=args.tags,
            opts=child(self),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            tags=args.tags,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=identity.account_id.apply(
                lambda account: json.dumps(iam_policies.flow_logs_trust_policy(account))
            ),
            tags=args.tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(lambda arn: json.dumps(iam_policies.flow_logs_policy(arn))),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            tags=args.tags,
            opts=child(self),
        )
        return log_group


def _checked_plan(name: str, args: NetworkArgs) -> NetworkPlan:
    """The subnet layout, or every problem with the arguments at once."""
    problems = Problems(f"Network {name!r}")
    problems.one_of("nat_strategy", args.nat_strategy, defaults.NAT_STRATEGIES)
    if not MIN_AZ_COUNT <= args.az_count <= MAX_AZ_COUNT:
        problems.add(
            "az_count", f"{args.az_count} is out of range {MIN_AZ_COUNT} to {MAX_AZ_COUNT}"
        )
    if args.flow_log_retention_days < 1:
        problems.add("flow_log_retention_days", f"{args.flow_log_retention_days} is not positive")
    try:
        ipaddress.IPv4Network(args.cidr, strict=True)
    except ValueError as error:
        problems.add("cidr", f"{args.cidr!r} is not an IPv4 network: {error}")
    problems.raise_if_any()
    try:
        return plan_network(args.cidr, args.az_count, args.nat_strategy)
    except ValueError as error:  # the layout's own reason: an invalid or too small range
        problems.add("cidr", str(error))
        problems.raise_if_any()
        raise


def _zone(index: int, names: list[str] | None) -> str | None:
    """The AZ of subnet `index`; `None` (AWS picks) when the lookup returned no names, as
    mocks that echo their arguments do."""
    return names[index] if names and index < len(names) else None
