"""The whole program (`liminal plan`, in a subprocess: mocks are process-global) on a project
with one monitored and one unmonitored service, and on the same project with none monitored:
the monitoring resources, the `dashboardUrls` output, MWAA's metrics permission, and the policy
pack failing a prod stack without monitoring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "infra_components"))
sys.path.insert(0, str(Path(__file__).parents[2] / "policy"))

from liminal_policy.offline import evaluate, resources_of_plan  # noqa: E402
from monitoring_project import TEXT, write_project  # noqa: E402
from pulumi_policy import EnforcementLevel  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING_TYPES = {
    "liminal:aws:Monitoring",
    "aws:amp/workspace:Workspace",
    "aws:amp/scraper:Scraper",
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace",
    "aws:amp/alertManagerDefinition:AlertManagerDefinition",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:sns/topic:Topic",
    "aws:sns/topicSubscription:TopicSubscription",
}
UNMONITORED = (
    TEXT[: TEXT.index("    monitoring:\n")] + TEXT[TEXT.index("  - service: batch_server") :]
)


def plan(project: Path, stack: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "liminal_pulumi.cli",
            "plan",
            str(project),
            "--stack",
            stack,
            "--json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("monitored")
    write_project(root)
    return plan(root, "dev")


@pytest.fixture(scope="module")
def unmonitored(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("unmonitored")
    write_project(root, UNMONITORED)
    return plan(root, "prod")


def test_monitored_service_gets_scraper_alarms_topic_subscriptions_and_dashboard(monitored):
    counts = monitored["counts"]
    assert {t: counts.get(t, 0) for t in MONITORING_TYPES} == {
        "liminal:aws:Monitoring": 1,
        "aws:amp/workspace:Workspace": 1,
        "aws:amp/scraper:Scraper": 1,
        "aws:amp/ruleGroupNamespace:RuleGroupNamespace": 1,  # error rate + p99 latency
        "aws:amp/alertManagerDefinition:AlertManagerDefinition": 1,
        # drift share + failure of the file's pipeline and of the drift pipeline
        "aws:cloudwatch/metricAlarm:MetricAlarm": 3,
        "aws:cloudwatch/dashboard:Dashboard": 1,
        "aws:sns/topic:Topic": 1,
        "aws:sns/topicSubscription:TopicSubscription": 3,
    }
    urls = monitored["outputs"]["dashboardUrls"]
    assert list(urls) == ["scoring_server"]
    assert urls["scoring_server"].endswith("#dashboards/dashboard/liminal-dev-scoring-server")
    names = json.dumps([r["name"] for r in monitored["resources"]])
    assert "batch-server-dashboard" not in names and "batch-server-rules" not in names


def test_mwaa_may_put_the_projects_pipeline_metrics(monitored):
    conditions = [
        statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
        for r in monitored["resources"]
        if r["type"] == "aws:iam/rolePolicy:RolePolicy" and "airflow" in r["name"]
        for statement in json.loads(r["inputs"]["policy"])["Statement"]
        if statement["Action"] == "cloudwatch:PutMetricData"
    ]
    assert conditions == [["AmazonMWAA", "ShopModels"]]


def test_no_monitored_service_means_no_monitoring_resources(unmonitored):
    counts = unmonitored["counts"]
    assert not MONITORING_TYPES & set(counts)
    assert unmonitored["outputs"]["dashboardUrls"] == {}


def test_policy_pack_fails_a_prod_stack_without_monitoring(unmonitored, monitored):
    findings = evaluate(resources_of_plan(unmonitored), "prod")
    failing = [f for f in findings if f.policy == "services-monitored"]
    assert {f.level for f in failing} == {EnforcementLevel.MANDATORY}
    assert sorted(f.message.split()[2] for f in failing) == ["batch-server", "scoring-server"]
    # The monitored project still has one unmonitored server: advised about in dev only.
    (advice,) = [
        f for f in evaluate(resources_of_plan(monitored), "dev") if f.policy == "services-monitored"
    ]
    assert advice.level == EnforcementLevel.ADVISORY and "batch-server" in advice.message
