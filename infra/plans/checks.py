"""Argument checks shared by the components and the stack settings: the rules live here once.

A component gathers every problem with its arguments in a `Problems` and raises one
`ComponentArgumentError` (a `ValueError`) naming the component and, on each line, the argument at
fault, before it declares any resource. The rules themselves (`one_of`, `open_cidrs`, ...) are
plain functions, so the stack settings model (`infra/stack_settings.py`) applies the same rules
and reports them under its config keys instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Names a platform gives AWS resources derive from its `environment`: an EKS cluster name, an
# MWAA environment name, an ECR repository prefix and an S3 bucket prefix must all accept it.
# MWAA: `^[a-zA-Z][0-9a-zA-Z-_]*$`, 1-80 characters (MWAA API reference, CreateEnvironment);
# EKS: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, 1-100 (EKS API reference, CreateCluster); ECR repository
# names and S3 buckets are lower case (the components lower-case it) and take no `_`.
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")


class ComponentArgumentError(ValueError):
    """A component's arguments are wrong; one line per problem, each naming the argument.

    Attributes:
        component: the component's type and name (`Services 'services'`).
        problems: `argument: what is wrong (got ...)` per problem, in the order found.
    """

    def __init__(self, component: str, problems: Sequence[str]) -> None:
        self.component = component
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{component}: invalid arguments:\n{lines}")


@dataclass
class Problems:
    """Collects a component's argument problems so that all are reported at once."""

    component: str
    found: list[str] = field(default_factory=list)

    def add(self, argument: str, message: str) -> None:
        self.found.append(f"{argument}: {message}")

    def one_of(self, argument: str, value: object, allowed: Iterable[object]) -> None:
        problem = one_of(value, allowed)
        if problem:
            self.add(argument, problem)

    def check(self, argument: str, problem: str | None) -> None:
        if problem:
            self.add(argument, problem)

    def raise_if_any(self) -> None:
        if self.found:
            raise ComponentArgumentError(self.component, self.found)


def one_of(value: object, allowed: Iterable[object]) -> str | None:
    """`None` when `value` is allowed, else the message naming the allowed values."""
    allowed = tuple(allowed)
    if value in allowed:
        return None
    return f"{value!r} is not allowed; use one of {', '.join(map(str, allowed))}"


def open_cidrs(cidrs: Iterable[str]) -> list[str]:
    """Problems of the networks a public EKS endpoint admits: invalid ones and `/0` ranges."""
    problems = []
    for item in cidrs:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as error:
            problems.append(f"{item!r} is not a network: {error}")
            continue
        if network.prefixlen == 0:
            problems.append(
                f"{item} opens the cluster API to the whole internet; list your networks"
            )
    return problems


def public_endpoint(enabled: bool, cidrs: Sequence[str]) -> str | None:
    """A public endpoint must name the networks allowed in (EKS's own default is 0.0.0.0/0)."""
    if enabled and not cidrs:
        return "a public endpoint needs the networks allowed in (EKS would admit 0.0.0.0/0)"
    return None


def ordered_sizes(minimum: int, desired: int, maximum: int) -> str | None:
    if minimum < 0 or not minimum <= desired <= maximum:
        return f"need 0 <= min ({minimum}) <= desired ({desired}) <= max ({maximum})"
    return None


def environment_name(name: str) -> str | None:
    if ENVIRONMENT_NAME.match(name):
        return None
    return (
        f"{name!r} must start with a letter and hold only letters, digits and '-', "
        "at most 40 characters (it names the EKS cluster, MWAA environment, ECR and S3 prefixes)"
    )


def check_nodes_and_endpoint(
    problems: Problems,
    sizes: tuple[int, int, int],
    endpoint_public_access: bool,
    public_access_cidrs: Sequence[str],
) -> None:
    """The node group's sizes (min <= desired <= max) and the API endpoint's exposure (public
    only when limited to CIDRs, none of them open), as `Cluster` and `LiminalPlatform` check
    them."""
    problems.check("node_min_size/node_desired_size/node_max_size", ordered_sizes(*sizes))
    problems.check(
        "public_access_cidrs", public_endpoint(endpoint_public_access, public_access_cidrs)
    )
    for problem in open_cidrs(public_access_cidrs):
        problems.add("public_access_cidrs", problem)
