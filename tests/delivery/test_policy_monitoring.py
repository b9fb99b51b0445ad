"""The `services-monitored` rule: every model server has an error-rate alert (mandatory in
prod, advisory in dev)."""

import yaml
from liminal_policy import monitoring
from liminal_policy.enforcement import policy_levels
from liminal_policy.offline import evaluate
from liminal_policy.pack import policy_names
from liminal_policy.resources import AMP_RULE_GROUP_NAMESPACE, K8S_DEPLOYMENT, Resource
from pulumi_policy import EnforcementLevel

RULE = "services-monitored"


def resource(type_: str, name: str, props) -> Resource:
    return Resource(
        type=type_, urn=f"urn:pulumi:prod::liminal::{type_}::{name}", name=name, props=props
    )


def server(name: str, component: str = "model-server") -> Resource:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}
    return resource(K8S_DEPLOYMENT, name, {"metadata": {"name": name, "labels": labels}})


def rules(*alerts: tuple[str, str]) -> Resource:
    data = yaml.safe_dump(
        {
            "groups": [
                {
                    "name": "g",
                    "rules": [
                        {
                            "alert": f"{svc}-{kind}",
                            "expr": "1",
                            "labels": {"service": svc, "liminal_alert": kind},
                        }
                        for svc, kind in alerts
                    ],
                }
            ]
        }
    )
    return resource(AMP_RULE_GROUP_NAMESPACE, "rules", {"data": data, "workspaceId": "ws"})


def test_server_with_an_error_rate_alert_is_compliant():
    assert (
        monitoring.check_services_monitored([server("scoring"), rules(("scoring", "error_rate"))])
        == []
    )


def test_server_without_monitoring_is_a_violation_naming_it():
    (violation,) = monitoring.check_services_monitored([server("scoring")])
    assert "scoring" in violation.message and "monitoring" in violation.message
    assert violation.urn == server("scoring").urn


def test_other_alerts_or_other_services_do_not_count():
    found = monitoring.check_services_monitored(
        [server("a"), server("b"), rules(("a", "p99_latency"), ("b", "error_rate"))]
    )
    assert [v.urn for v in found] == [server("a").urn]


def test_deployments_that_are_not_model_servers_are_ignored():
    assert monitoring.check_services_monitored([server("worker", component="batch")]) == []


def test_unreadable_rule_data_counts_as_no_alert():
    bad = resource(AMP_RULE_GROUP_NAMESPACE, "bad", {"data": "groups: [unclosed"})
    unknown = resource(AMP_RULE_GROUP_NAMESPACE, "unknown", {"data": None})
    assert len(monitoring.check_services_monitored([server("s"), bad, unknown])) == 1


def test_mandatory_in_prod_advisory_in_dev():
    assert RULE in policy_names()
    for environment, level in (
        ("prod", EnforcementLevel.MANDATORY),
        ("dev", EnforcementLevel.ADVISORY),
    ):
        assert policy_levels(environment, policy_names(), environ={})[RULE] == level
        (finding,) = [f for f in evaluate([server("scoring")], environment) if f.policy == RULE]
        assert finding.level == level
