"""IAM: no `*` actions in what a policy allows, no role anyone can assume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import as_list, mapping, policy_document, statements


def wildcard_actions(document: Mapping[str, Any]) -> list[str]:
    """Actions an Allow statement grants by wildcard: `*`, `service:*`, or any NotAction."""
    found = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        if statement.get("NotAction") is not None:
            found.append("NotAction")
        for action in as_list(statement.get("Action")):
            text = str(action)
            if text == "*" or text.endswith(":*"):
                found.append(text)
    return found


def _document_problems(raw: Any, where: str) -> list[str]:
    document = policy_document(raw)
    if document is None:
        return [f"{where} is not a readable policy document"] if raw is not None else []
    wildcards = wildcard_actions(document)
    if not wildcards:
        return []
    return [f"{where} allows wildcard actions {sorted(set(wildcards))}: list the actions it needs"]


def check_policy(props: Mapping[str, Any]) -> list[str]:
    """An `aws.iam.Policy` or `aws.iam.RolePolicy`."""
    return _document_problems(props.get("policy"), "the policy")


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return "*" in [str(value) for value in as_list(mapping(principal).get("AWS"))]


def check_role(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for inline in as_list(props.get("inlinePolicies")):
        inline = mapping(inline)
        problems += _document_problems(
            inline.get("policy"), f"inline policy {inline.get('name')!r}"
        )
    trust = policy_document(props.get("assumeRolePolicy"))
    for statement in statements(trust or {}):
        allows_anyone = statement.get("Effect") == "Allow" and _anyone(statement.get("Principal"))
        if allows_anyone and not statement.get("Condition"):
            problems.append(
                "the trust policy lets any principal assume the role without a condition"
            )
    return problems
