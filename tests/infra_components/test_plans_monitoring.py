"""The monitoring layouts, called directly: which services are monitored, the scraper's
configuration, AMP rules and routing, CloudWatch alarms, dashboards and IAM documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from monitoring_project import TEXT, write_project

from liminal_pulumi import defaults
from liminal_pulumi.plans import iam_policies
from liminal_pulumi.plans import monitoring_plan as plan

TOPIC = "arn:aws:sns:us-east-1:123456789012:liminal-dev-alerts"
WORKSPACE = "arn:aws:aps:us-east-1:123456789012:workspace/ws-1"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def scoring(project):
    (service,) = plan.monitored_services(project)
    return service


def test_only_services_with_a_monitoring_section_are_monitored(project, scoring):
    assert [s.service for _, s in project.services()] == ["scoring_server", "batch_server"]
    assert scoring.service == "scoring_server" and scoring.k8s_name == "scoring-server"
    # Its file's pipeline, then its drift pipeline; both publish to the file's namespace.
    assert scoring.pipelines == (
        plan.PipelineMetrics("train_pipeline", "ShopModels"),
        plan.PipelineMetrics("scoring_server_drift", "ShopModels"),
    )
    assert scoring.metrics_namespace == "ShopModels"


def test_pipeline_namespaces_follow_metrics_backends(tmp_path: Path):
    assert plan.metrics_namespace("X", ["cloudwatch"]) == "X"
    assert plan.metrics_namespace(None, ["cloudwatch"]) == defaults.DAG_TAG
    assert plan.metrics_namespace("X", []) is None
    silent = write_project(tmp_path, TEXT.replace("backends: [cloudwatch]", "backends: []"))
    assert plan.pipeline_metrics_namespaces(silent) == ()
    (service,) = plan.monitored_services(silent)
    # Asked for, but nothing would ever reach CloudWatch: no alarm, no drift role.
    assert plan.cloudwatch_alarms(service, "env") == []
    assert plan.drift_metrics_namespaces([service]) == ()


def test_scrape_configuration_keeps_only_monitored_model_servers(scoring):
    config = yaml.safe_load(plan.scrape_configuration([scoring], "liminal"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == defaults.METRICS_PATH
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["liminal"]}}]
    keeps = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keeps["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == "scoring-server"
    assert keeps["__meta_kubernetes_pod_label_app_kubernetes_io_component"] == "model-server"
    with pytest.raises(ValueError):
        plan.scrape_configuration([], "liminal")


def test_alert_rules_hold_error_rate_and_p99_latency(scoring):
    (group,) = yaml.safe_load(plan.alert_rules(scoring))["groups"]
    rules = {r["labels"]["liminal_alert"]: r for r in group["rules"]}
    assert set(rules) == {"error_rate", "p99_latency"}
    error = rules["error_rate"]
    assert error["expr"].endswith("> 0.02")
    assert 'status=~"5.."' in error["expr"] and 'service="scoring-server"' in error["expr"]
    assert "/healthcheck" in error["expr"]  # probes never count
    latency = rules["p99_latency"]
    assert "histogram_quantile(0.99" in latency["expr"] and latency["expr"].endswith("> 250.0")
    assert "[120s]" in latency["expr"]
    # 3 periods of 120 s in a row: the condition holds 240 s after the first.
    assert error["for"] == latency["for"] == "240s"


def test_thresholds_set_to_null_are_off(tmp_path: Path):
    text = TEXT.replace("error_rate: 0.02", "error_rate: null").replace(
        "p99_latency_ms: 250", "p99_latency_ms: null"
    )
    (service,) = plan.monitored_services(write_project(tmp_path, text))
    assert plan.alert_rules(service) is None


def test_declared_endpoints_narrow_the_queries(tmp_path: Path):
    text = TEXT.replace("    monitoring:\n", "    monitoring:\n      endpoints: [/predict]\n")
    (service,) = plan.monitored_services(write_project(tmp_path, text))
    assert 'endpoint=~"/predict"' in plan.error_rate_query(service, "60s")


def test_alertmanager_routes_everything_to_the_topic():
    outer = yaml.safe_load(plan.alertmanager_definition(TOPIC, "eu-west-1"))
    config = yaml.safe_load(outer["alertmanager_config"])
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    (sns,) = receiver["sns_configs"]
    assert sns["topic_arn"] == TOPIC and sns["sigv4"] == {"region": "eu-west-1"}


def test_cloudwatch_alarms_for_drift_share_and_pipeline_failure(scoring):
    alarms = {a.key: a for a in plan.cloudwatch_alarms(scoring, "liminal-dev")}
    assert set(alarms) == {
        "drift-share",
        "pipeline-train-pipeline",
        "pipeline-scoring-server-drift",  # a failed drift run alarms like any pipeline
    }
    drift = alarms["drift-share"]
    # Where liminal_pulumi.monitoring.drift publishes it.
    assert (drift.namespace, drift.metric_name) == ("ShopModels", "DriftShare")
    assert drift.dimensions == {defaults.CLOUDWATCH_DIMENSION: "scoring_server_drift"}
    assert drift.threshold == 0.4 and drift.comparison_operator == "GreaterThanOrEqualToThreshold"
    failure = alarms["pipeline-train-pipeline"]
    assert (failure.namespace, failure.metric_name) == ("ShopModels", "JobResult")
    assert failure.dimensions == {defaults.CLOUDWATCH_DIMENSION: "train_pipeline"}
    assert failure.statistic == "Minimum" and failure.threshold == 1.0
    assert failure.comparison_operator == "LessThanThreshold"
    assert {a.treat_missing_data for a in alarms.values()} == {"notBreaching"}
    assert len({a.name for a in alarms.values()}) == 3


def test_no_drift_alarm_without_drift_checks(tmp_path: Path):
    text = TEXT.replace("      drift:\n        reference: /mnt/store/reference.csv\n", "")
    (service,) = plan.monitored_services(write_project(tmp_path, text))
    assert [a.key for a in plan.cloudwatch_alarms(service, "env")] == ["pipeline-train-pipeline"]
    widgets = plan.dashboard_body(service, "us-east-1", "ws-1")["widgets"]
    assert not any("DriftShare" in json.dumps(w) for w in widgets)


def test_dashboard_shows_drift_pipelines_alarms_and_service_queries(scoring):
    body = plan.dashboard_body(scoring, "us-east-1", "ws-1", ["arn:alarm:1"])
    widgets = body["widgets"]
    text = widgets[0]["properties"]["markdown"]
    assert "ws-1" in text and "histogram_quantile(0.5" in text and "histogram_quantile(0.99" in text
    metrics = {w["properties"]["title"]: w["properties"] for w in widgets if w["type"] == "metric"}
    drift = metrics["Drift share (last reports)"]
    assert drift["metrics"][0][:4] == [
        "ShopModels",
        "DriftShare",
        defaults.CLOUDWATCH_DIMENSION,
        "scoring_server_drift",
    ]
    assert drift["annotations"]["horizontal"][0]["value"] == 0.4
    last = metrics["Last pipeline result (1 success, 0 failure)"]
    assert last["view"] == "singleValue"
    assert last["metrics"][0][:4] == [
        "ShopModels",
        "JobResult",
        "ApplicationName",
        "train_pipeline",
    ]
    (alarms,) = [w for w in widgets if w["type"] == "alarm"]
    assert alarms["properties"]["alarms"] == ["arn:alarm:1"]
    # Widgets never overlap on the 24-column grid.
    cells = set()
    for w in widgets:
        for x in range(w["x"], w["x"] + w["width"]):
            for y in range(w["y"], w["y"] + w["height"]):
                assert (x, y) not in cells
                cells.add((x, y))
    json.dumps(body)  # what the component sends


def test_dashboard_url_names_region_and_dashboard():
    url = plan.dashboard_url("eu-west-1", "liminal-dev-scoring-server")
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/")
    assert url.endswith("#dashboards/dashboard/liminal-dev-scoring-server")


def test_subscriptions_are_each_declared_target_once(scoring):
    assert plan.subscriptions([scoring, scoring]) == [
        ("email", "oncall@example.com"),
        ("email", "ml@example.com"),
        ("https", "https://hooks.example.com/liminal"),
    ]
    keys = {plan.subscription_key(p, e) for p, e in plan.subscriptions([scoring])}
    assert len(keys) == 3


def test_scraper_access_entry_principal_drops_the_service_role_path():
    arn = (
        "arn:aws:iam::123456789012:role/aws-service-role/scraper.aps.amazonaws.com/"
        "AWSServiceRoleForAmazonPrometheusScraper_abc"
    )
    assert plan.scraper_access_principal(arn) == (
        "arn:aws:iam::123456789012:role/AWSServiceRoleForAmazonPrometheusScraper_abc"
    )
    with pytest.raises(ValueError):
        plan.scraper_access_principal("arn:aws:iam::1:user/x")
    assert plan.scraper_role_rules() == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]


def test_drift_role_is_trusted_by_one_service_account_and_puts_only_drift_metrics():
    trust = plan.drift_irsa_trust_policy(
        "arn:aws:iam::1:oidc-provider/oidc.eks/id/X", "https://oidc.eks/id/X"
    )
    (statement,) = trust["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks/id/X:aud": "sts.amazonaws.com",
        "oidc.eks/id/X:sub": "system:serviceaccount:liminal:liminal-drift",
    }
    policy = plan.drift_metrics_policy(["ShopModels"])
    assert iam_policies.all_actions(policy) == ["cloudwatch:PutMetricData"]
    (put,) = policy["Statement"]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ShopModels"}}


def test_topic_and_key_admit_only_this_accounts_alarms_and_workspace():
    topic = plan.alert_topic_policy(
        topic_arn=TOPIC, account_id="123456789012", workspace_arn=WORKSPACE
    )
    by_sid = {s["Sid"]: s for s in topic["Statement"]}
    assert by_sid["PrometheusAlertmanagerPublishes"]["Condition"]["ArnEquals"] == {
        "aws:SourceArn": WORKSPACE
    }
    assert by_sid["CloudWatchAlarmsPublish"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"}
    }
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"
    key = plan.alert_key_policy(partition="aws", account_id="123456789012")
    (use,) = [s for s in key["Statement"] if s["Sid"] == "AlarmSourcesEncryptToTheTopic"]
    assert use["Principal"]["Service"] == ["aps.amazonaws.com", "cloudwatch.amazonaws.com"]
    assert "kms:*" not in use["Action"]


def test_mwaa_may_put_the_declared_pipeline_metrics_only():
    def put_condition(namespaces):
        document = iam_policies.mwaa_execution_policy(
            partition="aws",
            region="us-east-1",
            account_id="1",
            environment_name="liminal-dev",
            bucket_arn="arn:aws:s3:::b",
            kms_key_arn="arn:aws:kms:k",
            metrics_namespaces=namespaces,
        )
        (statement,) = [
            s for s in document["Statement"] if s["Action"] == "cloudwatch:PutMetricData"
        ]
        return statement["Condition"]["StringEquals"]["cloudwatch:namespace"]

    assert put_condition(()) == "AmazonMWAA"
    assert put_condition(("ShopModels", "liminal")) == ["AmazonMWAA", "ShopModels", "liminal"]


def test_a_monitored_service_writes_its_prediction_log_through_one_writable_mount() -> None:
    from liminal_pulumi.dsl.loader import load_project
    from liminal_pulumi.plans import service_plan
    from liminal_pulumi.serving.prediction_log import MONITORING_ENV, monitoring_environment

    repo = Path(__file__).resolve().parents[2]
    ((_, service),) = load_project(repo / "examples" / "iris").services()
    assert service.monitoring is not None
    env = monitoring_environment(service.service, service.monitoring)
    spec = service_plan.deployment(service, "img", {}, "liminal", extra_env=env)
    (container,) = spec["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    store = mounts["/mnt/gettingstartedvol"]
    assert store["readOnly"] is True  # the models stay read-only
    writable = mounts[service.monitoring.path]
    assert writable["readOnly"] is False and writable["name"] == store["name"]
    assert writable["subPath"] == service.monitoring.path.removeprefix("/mnt/gettingstartedvol/")
    variables = {e["name"]: e["value"] for e in container["env"]}
    assert json.loads(variables[MONITORING_ENV]) == json.loads(env[MONITORING_ENV])

    unmonitored = service.model_copy(update={"monitoring": None})
    plain = service_plan.deployment(unmonitored, "img", {}, "liminal")
    (container,) = plain["spec"]["template"]["spec"]["containers"]
    assert all(m.get("readOnly", True) for m in container["volumeMounts"] if m["name"] != "tmp")
    assert MONITORING_ENV not in {e["name"] for e in container["env"]}
