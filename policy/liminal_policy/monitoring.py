"""Every model server of the stack is monitored, with at least an error-rate alert.

A model server is a Kubernetes Deployment labelled `app.kubernetes.io/component: model-server`
(what the Services component deploys for a liminal.yml service); its alert is an Amazon Managed
Service for Prometheus rule (`aws:amp/ruleGroupNamespace`, the Monitoring component) labelled
`liminal_alert: error_rate` and `service: <the Deployment's name>`. Mandatory in prod, advisory in
dev, like the rest of the pack (enforcement.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from .resources import AMP_RULE_GROUP_NAMESPACE, K8S_DEPLOYMENT, Resource, Violation, mapping

MODEL_SERVER_COMPONENT = "model-server"
ERROR_RATE_ALERT = "error_rate"


def _model_server_name(props: Mapping[str, Any]) -> str | None:
    metadata = mapping(props.get("metadata"))
    labels = mapping(metadata.get("labels"))
    if labels.get("app.kubernetes.io/component") != MODEL_SERVER_COMPONENT:
        return None
    name = metadata.get("name") or labels.get("app.kubernetes.io/name")
    return name if isinstance(name, str) else None


def error_rate_services(rule_group_data: Any) -> set[str]:
    """The `service` labels of the error-rate alerts in one rule group's YAML (none if it cannot
    be read: an unknown value during a preview, or malformed text)."""
    if not isinstance(rule_group_data, str):
        return set()
    try:
        document = yaml.safe_load(rule_group_data)
    except yaml.YAMLError:
        return set()
    found = set()
    for group in mapping(document).get("groups") or []:
        for rule in mapping(group).get("rules") or []:
            labels = mapping(mapping(rule).get("labels"))
            if "alert" in mapping(rule) and labels.get("liminal_alert") == ERROR_RATE_ALERT:
                service = labels.get("service")
                if isinstance(service, str):
                    found.add(service)
    return found


def check_services_monitored(resources: Sequence[Resource]) -> list[Violation]:
    alerted: set[str] = set()
    for resource in resources:
        if resource.type == AMP_RULE_GROUP_NAMESPACE:
            alerted |= error_rate_services(resource.props.get("data"))
    violations = []
    for resource in resources:
        if resource.type != K8S_DEPLOYMENT:
            continue
        name = _model_server_name(resource.props)
        if name is not None and name not in alerted:
            violations.append(
                Violation(
                    f"model server {name} has no error-rate alert: give its liminal.yml service a "
                    "`monitoring` section with `alerts` (error_rate not null)",
                    resource.urn,
                )
            )
    return violations
