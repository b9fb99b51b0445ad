"""Run the pack's checks on a `liminal plan --json` document, without the Pulumi engine.

The engine runs the pack during `pulumi preview`/`up`; this runs the same checks on the offline
plan, so a pull request learns about violations before anyone previews against AWS. A plan
records each resource's dependencies as a whole, not per input: they stand for every input here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel

from .enforcement import PROTECTION_POLICY, environment_of_stack, policy_levels
from .pack import RESOURCE_RULES, STACK_RULES, policy_names
from .protection import check_protected
from .resources import Resource


@dataclass(frozen=True)
class Finding:
    policy: str
    level: EnforcementLevel
    message: str
    urn: str | None


def resources_of_plan(plan: Mapping[str, Any]) -> list[Resource]:
    resources = []
    for item in plan["resources"]:
        dependencies = tuple(item.get("dependencies") or ())
        inputs = item.get("inputs") or {}
        resources.append(
            Resource(
                type=item["type"],
                urn=item["urn"],
                name=item["name"],
                props=inputs,
                protect=bool(item.get("protect")),
                dependencies=dict.fromkeys(inputs, dependencies),
            )
        )
    return resources


def evaluate(resources: Sequence[Resource], environment: str) -> list[Finding]:
    levels = policy_levels(environment, policy_names(), environ={})
    findings = []
    for rule in RESOURCE_RULES:
        for resource in resources:
            check = rule.checks.get(resource.type)
            for message in check(resource.props) if check else ():
                findings.append(Finding(rule.name, levels[rule.name], message, resource.urn))
    for stack_rule in STACK_RULES:
        for violation in stack_rule.check(resources):
            level = levels[stack_rule.name]
            findings.append(Finding(stack_rule.name, level, violation.message, violation.urn))
    for resource in resources:
        for message in check_protected(resource.type, resource.protect):
            findings.append(
                Finding(PROTECTION_POLICY, levels[PROTECTION_POLICY], message, resource.urn)
            )
    return [f for f in findings if f.level != EnforcementLevel.DISABLED]


def main(argv: Sequence[str]) -> int:
    """`python policy/check_plan.py PLAN.json`: print findings; exit 1 on a mandatory one."""
    if len(argv) != 1:
        print("usage: check_plan.py PLAN.json (from `liminal plan ... --json`)", file=sys.stderr)
        return 2
    plan = json.loads(Path(argv[0]).read_text())
    environment = environment_of_stack(plan.get("stack"))
    findings = evaluate(resources_of_plan(plan), environment)
    for finding in findings:
        print(f"[{finding.level.value}] {finding.policy}: {finding.message} ({finding.urn})")
    mandatory = [f for f in findings if f.level == EnforcementLevel.MANDATORY]
    print(
        f"policy pack on stack {plan.get('stack')!r} ({environment}): "
        f"{len(findings)} finding(s), {len(mandatory)} mandatory"
    )
    return 1 if mandatory else 0
