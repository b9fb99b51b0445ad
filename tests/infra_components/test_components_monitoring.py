"""The Monitoring component under mocks: per-environment metrics store, scraper, topic and
subscriptions; per monitored service its rules, alarms and dashboard; nothing for the others."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from monitoring_project import write_project

from liminal_pulumi import defaults
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.components.monitoring import Monitoring, MonitoringArgs
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.plans import monitoring_plan
from liminal_pulumi.plans.checks import ComponentArgumentError
from liminal_pulumi.testing import resolve, run

NAME = "mon"


@pytest.fixture(scope="module")
def monitoring(pulumi_mocks, tmp_path_factory):
    project = write_project(tmp_path_factory.mktemp("shop"))
    services = monitoring_plan.monitored_services(project)

    def program():
        network = Network("monnet", NetworkArgs(cidr="10.6.0.0/16", az_count=2))
        cluster = Cluster(
            "moncluster",
            ClusterArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
            ),
        )
        component = Monitoring(
            NAME,
            MonitoringArgs(
                services=services,
                environment_name="liminal-test",
                cluster=cluster.connection,
                subnet_ids=network.private_subnet_ids,
                region="us-east-1",
                tags={"Stack": "test"},
            ),
            opts=pulumi.ResourceOptions(providers=[cluster.k8s_provider]),
        )
        return {"component": component, "cluster": cluster}

    return run(program)


def mine(pulumi_mocks, type_token):
    return pulumi_mocks.of_type(type_token, NAME + "-")


def test_component_token_and_children(pulumi_mocks, monitoring):
    (component,) = pulumi_mocks.of_type("liminal:aws:Monitoring", NAME)
    children = [r for r in pulumi_mocks.registrations() if r.parent == component.urn]
    assert len(children) >= 10
    assert all(r.name.startswith(NAME + "-") for r in children)


def test_scraper_reads_the_cluster_into_the_workspace(pulumi_mocks, monitoring):
    (workspace,) = mine(pulumi_mocks, "aws:amp/workspace:Workspace")
    (scraper,) = mine(pulumi_mocks, "aws:amp/scraper:Scraper")
    eks_source = scraper.inputs["source"]["eks"]
    assert eks_source["clusterArn"] == resolve(monitoring["cluster"].cluster_arn)
    assert len(eks_source["subnetIds"]) == 2
    assert eks_source["securityGroupIds"] == [resolve(monitoring["cluster"].node_security_group_id)]
    assert scraper.inputs["destination"]["amp"]["workspaceArn"] == workspace.state["arn"]
    config = yaml.safe_load(scraper.inputs["scrapeConfiguration"])
    relabel = json.dumps(config["scrape_configs"][0]["relabel_configs"])
    assert "scoring-server" in relabel and "batch-server" not in relabel


def test_scraper_may_only_discover_pods_in_the_namespace(pulumi_mocks, monitoring):
    (entry,) = mine(pulumi_mocks, "aws:eks/accessEntry:AccessEntry")
    (scraper,) = mine(pulumi_mocks, "aws:amp/scraper:Scraper")
    assert entry.inputs["principalArn"] == monitoring_plan.scraper_access_principal(
        scraper.state["roleArn"]
    )
    assert "aws-service-role" not in entry.inputs["principalArn"]
    assert entry.inputs["userName"] == defaults.SCRAPER_KUBERNETES_USER
    assert "kubernetesGroups" not in entry.inputs  # no cluster-wide group
    (role,) = mine(pulumi_mocks, "kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert role.inputs["metadata"]["namespace"] == "liminal"
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    (binding,) = mine(pulumi_mocks, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert binding.inputs["subjects"][0]["name"] == defaults.SCRAPER_KUBERNETES_USER
    assert not pulumi_mocks.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")


def test_topic_is_encrypted_and_subscribed_once_per_target(pulumi_mocks, monitoring):
    (topic,) = mine(pulumi_mocks, "aws:sns/topic:Topic")
    (key,) = mine(pulumi_mocks, "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    subscriptions = mine(pulumi_mocks, "aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "ml@example.com"),
        ("email", "oncall@example.com"),
        ("https", "https://hooks.example.com/liminal"),
    ]
    assert {s.inputs["topic"] for s in subscriptions} == {topic.state["arn"]}
    (policy,) = mine(pulumi_mocks, "aws:sns/topicPolicy:TopicPolicy")
    (workspace,) = mine(pulumi_mocks, "aws:amp/workspace:Workspace")
    document = json.loads(policy.inputs["policy"])
    assert workspace.state["arn"] in json.dumps(document)
    assert resolve(monitoring["component"].topic_arn) == topic.state["arn"]


def test_alertmanager_sends_to_the_topic(pulumi_mocks, monitoring):
    (definition,) = mine(pulumi_mocks, "aws:amp/alertManagerDefinition:AlertManagerDefinition")
    (topic,) = mine(pulumi_mocks, "aws:sns/topic:Topic")
    config = yaml.safe_load(yaml.safe_load(definition.inputs["definition"])["alertmanager_config"])
    assert config["receivers"][0]["sns_configs"][0]["topic_arn"] == topic.state["arn"]


def test_monitored_service_has_rules_alarms_and_dashboard(pulumi_mocks, monitoring):
    (rules,) = mine(pulumi_mocks, "aws:amp/ruleGroupNamespace:RuleGroupNamespace")
    assert rules.name == f"{NAME}-scoring-server-rules"
    alerts = {
        r["labels"]["liminal_alert"]
        for r in yaml.safe_load(rules.inputs["data"])["groups"][0]["rules"]
    }
    assert alerts == {"error_rate", "p99_latency"}
    alarms = mine(pulumi_mocks, "aws:cloudwatch/metricAlarm:MetricAlarm")
    (topic,) = mine(pulumi_mocks, "aws:sns/topic:Topic")
    assert sorted(a.inputs["metricName"] for a in alarms) == [
        "DriftShare",
        "JobResult",
        "JobResult",
    ]
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic.state["arn"]]
    (dashboard,) = mine(pulumi_mocks, "aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "liminal-test-scoring-server"
    body = json.loads(dashboard.inputs["dashboardBody"])
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a.state["arn"] for a in alarms)
    urls = resolve(monitoring["component"].dashboard_urls)
    assert set(urls) == {"scoring_server"}
    assert urls["scoring_server"].endswith("#dashboards/dashboard/liminal-test-scoring-server")


def test_unmonitored_service_gets_nothing(pulumi_mocks, monitoring):
    names = [r.name for r in pulumi_mocks.under(NAME + "-")]
    assert not any("batch" in name for name in names)
    for registration in pulumi_mocks.under(NAME + "-"):
        assert "batch_server" not in json.dumps(registration.inputs)


def test_drift_task_identity_is_least_privilege(pulumi_mocks, monitoring):
    (role,) = [r for r in mine(pulumi_mocks, "aws:iam/role:Role") if r.name == f"{NAME}-drift"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert f"system:serviceaccount:liminal:{defaults.DRIFT_SERVICE_ACCOUNT}" in condition.values()
    (policy,) = mine(pulumi_mocks, "aws:iam/rolePolicy:RolePolicy")
    assert json.loads(policy.inputs["policy"]) == monitoring_plan.drift_metrics_policy(
        ["ShopModels"]
    )
    (account,) = mine(pulumi_mocks, "kubernetes:core/v1:ServiceAccount")
    assert account.inputs["metadata"]["name"] == defaults.DRIFT_SERVICE_ACCOUNT
    assert account.inputs["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": role.state["arn"]
    }
    assert monitoring["component"].drift_service_account == defaults.DRIFT_SERVICE_ACCOUNT


def _oidc_less_connection(provider_name):
    """An existing cluster given without its OIDC provider."""
    return ClusterConnection(
        name="c",
        arn="arn:aws:eks:us-east-1:123456789012:cluster/c",
        endpoint="https://c",
        certificate_authority="Q0E=",
        cluster_security_group_id="sg-1",
        node_security_group_id="sg-2",
        kubeconfig="{}",
        provider=k8s.Provider(provider_name, kubeconfig="{}"),
    )


def test_bad_arguments_are_refused_together_before_any_resource(pulumi_mocks):
    def program():
        connection = _oidc_less_connection("k8s-for-bad-monitoring")
        before = len(pulumi_mocks.registrations())
        with pytest.raises(ComponentArgumentError) as raised:
            Monitoring(
                "empty",
                MonitoringArgs(
                    services=(), environment_name="x", cluster=connection, subnet_ids=["a"]
                ),
            )
        return {
            "problems": raised.value.problems,
            "added": len(pulumi_mocks.registrations()) - before,
        }

    result = run(program)
    assert [p.split(":")[0] for p in result["problems"]] == ["services", "subnet_ids"]
    assert result["added"] == 0


def test_a_drift_check_publishing_metrics_needs_the_cluster_oidc_provider(pulumi_mocks, tmp_path):
    services = monitoring_plan.monitored_services(write_project(tmp_path))
    assert monitoring_plan.drift_metrics_namespaces(services)  # the IRSA role is needed

    def program():
        connection = _oidc_less_connection("k8s-for-oidc-less-monitoring")
        with pytest.raises(ComponentArgumentError) as raised:
            Monitoring(
                "no-oidc",
                MonitoringArgs(
                    services=services,
                    environment_name="x",
                    cluster=connection,
                    subnet_ids=["a", "b"],
                ),
            )
        return raised.value.problems

    problems = run(program)
    assert [p.split(":")[0] for p in problems] == ["cluster"]
    assert "OIDC" in problems[0]
