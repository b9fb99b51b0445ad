"""What monitoring a project gets on AWS, as plain values the Monitoring component turns into
resources: which services are monitored, the scraper's Prometheus configuration, the alert rules
and Alertmanager routing of Amazon Managed Service for Prometheus (AMP), the CloudWatch alarms,
one dashboard per service, and the IAM / key / topic policy documents.

Where each signal lives, and why:

- The servers' `/metrics` (requests, errors and latency *histograms*) go to an AMP workspace,
  scraped by AMP's managed collector (no agent in the cluster). The CloudWatch agent was the other
  candidate; it drops Prometheus histograms ("Prometheus metric type conversion by the CloudWatch
  agent", CloudWatch user guide), so no p50/p99 latency could be computed from it. Error-rate and
  p99-latency alerts are therefore AMP alert rules (PromQL over the histogram), routed by AMP's
  Alertmanager to the environment's SNS topic.
- The drift task's DriftShare and the pipelines' JobResult are CloudWatch metrics already (the
  drift task, `liminal_pulumi.monitoring.drift`, and `liminal_pulumi.airflow.job_metrics` publish
  them, in the file's `metrics.namespace`, dimension ApplicationName = the pipeline, the drift
  pipeline being `<service>_drift`, when the file has `metrics.backends: [cloudwatch]`), so their
  alerts are CloudWatch alarms on the same SNS topic, and the dashboard is a CloudWatch one.

Every function here is pure; `tests/infra_components/test_plans_monitoring.py` calls them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Alerts, Monitoring, Project
from liminal_pulumi.plans import iam_policies
from liminal_pulumi.plans.service_plan import k8s_name

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"

# The server's Prometheus metric names (liminal_pulumi/serving/metrics.py).
REQUESTS_METRIC = "liminal_http_requests_total"
LATENCY_BUCKETS_METRIC = "liminal_http_request_duration_seconds_bucket"
# The label the scraper gives each series: the service's Kubernetes name (its pods' label).
SERVICE_LABEL = "service"
# Paths the server answers itself (probes, scrapes) never count in a service's error rate or
# latency, nor do unknown paths (serving/metrics.py's UNMATCHED_ENDPOINT).
SERVER_PATHS = (
    defaults.HEALTHCHECK_PATH,
    defaults.READINESS_PATH,
    defaults.METRICS_PATH,
    "<unmatched>",
)
SCRAPE_JOB = "liminal-model-servers"
ALERT_RECEIVER = "liminal-sns"
JOB_RESULT_METRIC = "JobResult"
DRIFT_SHARE_METRIC = "DriftShare"  # liminal_pulumi/monitoring/drift.py
JOB_DURATION_METRIC = "JobDuration"
DAY_SECONDS = 86_400
# AWS service principals that publish to the alert topic.
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
AMP_PRINCIPAL = "aps.amazonaws.com"


@dataclass(frozen=True)
class PipelineMetrics:
    """A pipeline of the service's liminal.yml and where its job_end task publishes JobResult
    (None: the file's `metrics.backends` has no `cloudwatch`, so nothing reaches CloudWatch)."""

    pipeline: str
    namespace: str | None


@dataclass(frozen=True)
class MonitoredService:
    """A service with a `monitoring` section, with what its alarms and dashboard read."""

    service: str
    k8s_name: str  # the `service` label of its Prometheus series
    monitoring: Monitoring
    # The pipelines of its file, then its drift pipeline (when it checks drift).
    pipelines: tuple[PipelineMetrics, ...]
    # Where its file's job and drift metrics go in CloudWatch (None: not to CloudWatch).
    metrics_namespace: str | None = None

    @property
    def drift_pipeline(self) -> str:
        return f"{self.service}{defaults.DRIFT_PIPELINE_SUFFIX}"

    @property
    def alerts(self) -> Alerts | None:
        return self.monitoring.alerts


def metrics_namespace(namespace: str | None, backends: Sequence[str]) -> str | None:
    """The CloudWatch namespace job metrics go to (job_metrics.put_metrics), or None."""
    return (namespace or defaults.DAG_TAG) if defaults.CLOUDWATCH_BACKEND in backends else None


def monitored_services(project: Project) -> tuple[MonitoredService, ...]:
    """The project's monitored services, in file order; unmonitored ones are left out."""
    found = []
    for file, service, monitoring in project.monitored_services():
        namespace = metrics_namespace(file.metrics.namespace, file.metrics.backends)
        names = [pipeline.pipeline for pipeline in file.pipelines]
        if monitoring.drift is not None:
            names.append(f"{service.service}{defaults.DRIFT_PIPELINE_SUFFIX}")
        found.append(
            MonitoredService(
                service.service,
                k8s_name(service.service),
                monitoring,
                tuple(PipelineMetrics(name, namespace) for name in names),
                namespace,
            )
        )
    return tuple(found)


def pipeline_metrics_namespaces(project: Project) -> tuple[str, ...]:
    """Every CloudWatch namespace the project's pipelines (its drift pipelines included) publish
    job metrics to, sorted."""
    return tuple(
        sorted(
            {
                namespace
                for file in project.files
                if (
                    file.pipelines
                    or any(s.monitoring and s.monitoring.drift for s in file.services)
                )
                and (namespace := metrics_namespace(file.metrics.namespace, file.metrics.backends))
            }
        )
    )


def drift_metrics_namespaces(services: Iterable[MonitoredService]) -> tuple[str, ...]:
    """The namespaces the drift tasks of `services` publish to (what their pods may put)."""
    return tuple(
        sorted(
            {
                s.metrics_namespace
                for s in services
                if s.monitoring.drift is not None and s.metrics_namespace is not None
            }
        )
    )


# --- the managed scraper --------------------------------------------------------------------


def scrape_configuration(
    services: Iterable[MonitoredService],
    namespace: str,
    interval_seconds: int = defaults.SCRAPE_INTERVAL_SECONDS,
) -> str:
    """The AMP scraper's Prometheus configuration (YAML): the `http` port's `/metrics` of every
    model-server pod of a monitored service in `namespace`, labelled `service=<k8s name>`.

    Pods are discovered through the Kubernetes API in that namespace only (so the scraper's
    cluster permissions are a namespaced Role, see `scraper_role_rules`)."""
    names = sorted({s.k8s_name for s in services})
    if not names:
        raise ValueError("no monitored service: nothing to scrape")
    config = {
        "global": {"scrape_interval": f"{interval_seconds}s"},
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOB,
                "metrics_path": defaults.METRICS_PATH,
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
                "relabel_configs": [
                    {
                        "source_labels": [
                            "__meta_kubernetes_pod_label_app_kubernetes_io_component"
                        ],
                        "regex": "model-server",
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                        "regex": "|".join(names),
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                        "regex": "http",
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                        "target_label": SERVICE_LABEL,
                    },
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def scraper_role_rules() -> list[dict[str, Any]]:
    """The scraper's Kubernetes permissions in the liminal namespace: discover pods, nothing else
    (it reads `/metrics` from the pods' IPs, not through the API server)."""
    return [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def scraper_access_principal(role_arn: str) -> str:
    """The scraper's role ARN as an EKS access entry names it: without the service-linked role's
    path (`role/aws-service-role/scraper.aps.amazonaws.com/X` -> `role/X`), as the AMP user guide
    ("Configuring your Amazon EKS cluster" for managed collectors) asks."""
    head, sep, rest = role_arn.partition(":role/")
    if not sep:
        raise ValueError(f"not an IAM role ARN: {role_arn}")
    return f"{head}:role/{rest.rsplit('/', 1)[-1]}"


# --- AMP alert rules and routing --------------------------------------------------------------


def _endpoint_selector(service: MonitoredService) -> str:
    selector = f'{SERVICE_LABEL}="{service.k8s_name}"'
    if service.monitoring.endpoints:
        paths = "|".join(e if e.startswith("/") else f"/{e}" for e in service.monitoring.endpoints)
        return f'{selector},endpoint=~"{paths}"'
    return f'{selector},endpoint!~"{"|".join(SERVER_PATHS)}"'


def _window(alerts: Alerts) -> str:
    return f"{alerts.period_seconds}s"


def error_rate_query(service: MonitoredService, window: str) -> str:
    """PromQL: the share (0-1) of the service's requests answered 5xx over `window`."""
    selector = _endpoint_selector(service)
    return (
        f'sum(rate({REQUESTS_METRIC}{{{selector},status=~"5.."}}[{window}]))'
        f" / sum(rate({REQUESTS_METRIC}{{{selector}}}[{window}]))"
    )


def latency_quantile_query(service: MonitoredService, quantile: float, window: str) -> str:
    """PromQL: the `quantile` (0-1) of the service's request latency in seconds over `window`."""
    selector = _endpoint_selector(service)
    return (
        f"histogram_quantile({quantile}, sum by (le) "
        f"(rate({LATENCY_BUCKETS_METRIC}{{{selector}}}[{window}])))"
    )


def requests_query(service: MonitoredService, window: str) -> str:
    """PromQL: the service's requests per second over `window`."""
    return f"sum(rate({REQUESTS_METRIC}{{{_endpoint_selector(service)}}}[{window}]))"


def alert_rules(service: MonitoredService) -> str | None:
    """The AMP rule group (Prometheus rules YAML) of the service's error-rate and p99-latency
    alerts; None when it declares neither. Each holds for `period_seconds *
    (evaluation_periods - 1)` before firing, as a CloudWatch alarm of as many periods would."""
    alerts = service.alerts
    if alerts is None:
        return None
    window = _window(alerts)
    hold = alerts.period_seconds * (alerts.evaluation_periods - 1)
    # `service` (the Kubernetes name, as on the series and the Deployment) lets the policy pack
    # match each model server with its error-rate rule.
    labels = {
        SERVICE_LABEL: service.k8s_name,
        "liminal_service": service.service,
        "severity": "page",
    }
    rules: list[dict[str, Any]] = []
    if alerts.error_rate is not None:
        rules.append(
            {
                "alert": f"{service.k8s_name}-error-rate",
                "expr": f"({error_rate_query(service, window)}) > {alerts.error_rate}",
                "labels": {**labels, "liminal_alert": "error_rate"},
                "annotations": {
                    "summary": (
                        f"{service.service}: more than {alerts.error_rate:.1%} of requests "
                        f"answered 5xx over {window}"
                    )
                },
            }
        )
    if alerts.p99_latency_ms is not None:
        rules.append(
            {
                "alert": f"{service.k8s_name}-p99-latency",
                "expr": (
                    f"({latency_quantile_query(service, 0.99, window)}) * 1000"
                    f" > {alerts.p99_latency_ms}"
                ),
                "labels": {**labels, "liminal_alert": "p99_latency"},
                "annotations": {
                    "summary": (
                        f"{service.service}: p99 latency above {alerts.p99_latency_ms:g} ms "
                        f"over {window}"
                    )
                },
            }
        )
    if not rules:
        return None
    if hold:
        for rule in rules:
            rule["for"] = f"{hold}s"
    return yaml.safe_dump(
        {"groups": [{"name": f"liminal-{service.k8s_name}", "rules": rules}]}, sort_keys=False
    )


def alertmanager_definition(topic_arn: str, region: str) -> str:
    """AMP's Alertmanager configuration: every alert to the environment's SNS topic (AMP's
    definition format: the Alertmanager YAML as a string under `alertmanager_config`)."""
    config = {
        "route": {
            "receiver": ALERT_RECEIVER,
            "group_by": ["alertname", "liminal_service"],
        },
        "receivers": [
            {
                "name": ALERT_RECEIVER,
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "attributes": {"source": "liminal-amp"},
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(
        {"alertmanager_config": yaml.safe_dump(config, sort_keys=False)}, sort_keys=False
    )


# --- CloudWatch alarms ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmPlan:
    """One CloudWatch metric alarm, in `aws.cloudwatch.MetricAlarm`'s argument names."""

    key: str  # unique within the service: drift-share, pipeline-<name>
    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    statistic: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    # Drift reports and pipeline runs are rare: a period without one is not a failure.
    treat_missing_data: str = "notBreaching"


def cloudwatch_alarms(service: MonitoredService, environment: str) -> list[AlarmPlan]:
    """The service's drift-share alarm (when it has drift checks and a drift_share threshold) and
    one pipeline-failure alarm per pipeline of its file that publishes JobResult: a file without
    `metrics.backends: [cloudwatch]` publishes none, so its pipelines get no alarm (one would
    never fire)."""
    alerts = service.alerts
    if alerts is None:
        return []
    prefix = f"{environment}-{service.k8s_name}"
    alarms = []
    if (
        alerts.drift_share is not None
        and service.monitoring.drift is not None
        and service.metrics_namespace is not None
    ):
        alarms.append(
            AlarmPlan(
                key="drift-share",
                name=f"{prefix}-drift-share",
                description=(
                    f"{service.service}: the last drift report found at least "
                    f"{alerts.drift_share:.0%} of the features drifted"
                ),
                namespace=service.metrics_namespace,
                metric_name=DRIFT_SHARE_METRIC,
                dimensions={defaults.CLOUDWATCH_DIMENSION: service.drift_pipeline},
                statistic="Maximum",
                period=alerts.period_seconds,
                evaluation_periods=alerts.evaluation_periods,
                threshold=alerts.drift_share,
                comparison_operator="GreaterThanOrEqualToThreshold",
            )
        )
    if alerts.pipeline_failure:
        for pipeline in service.pipelines:
            if pipeline.namespace is None:
                continue
            alarms.append(
                AlarmPlan(
                    key=f"pipeline-{k8s_name(pipeline.pipeline)}",
                    name=f"{prefix}-pipeline-{k8s_name(pipeline.pipeline)}",
                    description=(
                        f"{service.service}: pipeline {pipeline.pipeline} ended failed "
                        "(JobResult 0 from its end task)"
                    ),
                    namespace=pipeline.namespace,
                    metric_name=JOB_RESULT_METRIC,
                    dimensions={defaults.CLOUDWATCH_DIMENSION: pipeline.pipeline},
                    statistic="Minimum",
                    period=alerts.period_seconds,
                    # One failed run is enough: pipelines run rarely.
                    evaluation_periods=1,
                    threshold=1.0,
                    comparison_operator="LessThanThreshold",
                )
            )
    return alarms


# --- the dashboard ----------------------------------------------------------------------------


def dashboard_name(environment: str, service: MonitoredService) -> str:
    return f"{environment}-{service.k8s_name}"


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )


def _metric_widget(
    title: str, metrics: list[list[Any]], region: str, x: int, y: int, **properties: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {"title": title, "region": region, "metrics": metrics, **properties},
    }


def dashboard_body(
    service: MonitoredService,
    region: str,
    workspace_id: str,
    alarm_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """The service's CloudWatch dashboard (the body's JSON structure, CloudWatch API reference
    "Dashboard Body Structure and Syntax"), top to bottom:

    - a text panel naming the service and the AMP workspace holding its request, error and
      latency series, with the PromQL of requests/s, error share and p50/p99 latency;
    - drift share per report (with the alert threshold as a line) when drift is checked;
    - the last result of each pipeline of its file (1 success, 0 failure) and their durations;
    - the state of the service's CloudWatch alarms.
    """
    alerts = service.alerts
    window = _window(alerts) if alerts else f"{defaults.ALERT_PERIOD_SECONDS}s"
    queries = {
        "requests/s": requests_query(service, window),
        "error share (5xx)": error_rate_query(service, window),
        "p50 latency (s)": latency_quantile_query(service, 0.5, window),
        "p99 latency (s)": latency_quantile_query(service, 0.99, window),
    }
    lines = [
        f"# {service.service}",
        f"Requests, errors and latency: Amazon Managed Service for Prometheus workspace "
        f"`{workspace_id}` ({region}), scraped from the pods' `/metrics` every "
        f"{defaults.SCRAPE_INTERVAL_SECONDS} s. PromQL:",
        "",
        *[f"* {label}: `{query}`" for label, query in queries.items()],
    ]
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 6,
            "properties": {"markdown": "\n".join(lines)},
        }
    ]
    y = 6
    if service.monitoring.drift is not None and service.metrics_namespace is not None:
        annotations: dict[str, Any] = {}
        if alerts is not None and alerts.drift_share is not None:
            annotations = {
                "annotations": {
                    "horizontal": [{"label": "alert threshold", "value": alerts.drift_share}]
                }
            }
        widgets.append(
            _metric_widget(
                "Drift share (last reports)",
                [
                    [
                        service.metrics_namespace,
                        DRIFT_SHARE_METRIC,
                        defaults.CLOUDWATCH_DIMENSION,
                        service.drift_pipeline,
                        {"stat": "Maximum", "label": "drift share"},
                    ]
                ],
                region,
                0,
                y,
                view="timeSeries",
                period=DAY_SECONDS,
                yAxis={"left": {"min": 0, "max": 1}},
                **annotations,
            )
        )
    published = [p for p in service.pipelines if p.namespace is not None]
    if published:
        widgets.append(
            _metric_widget(
                "Last pipeline result (1 success, 0 failure)",
                [
                    [
                        p.namespace,
                        JOB_RESULT_METRIC,
                        defaults.CLOUDWATCH_DIMENSION,
                        p.pipeline,
                        {"stat": "Minimum", "label": p.pipeline},
                    ]
                    for p in published
                ],
                region,
                12,
                y,
                view="singleValue",
                period=DAY_SECONDS,
                setPeriodToTimeRange=False,
            )
        )
        widgets.append(
            _metric_widget(
                "Pipeline duration (s)",
                [
                    [
                        p.namespace,
                        JOB_DURATION_METRIC,
                        defaults.CLOUDWATCH_DIMENSION,
                        p.pipeline,
                        {"stat": "Maximum", "label": p.pipeline},
                    ]
                    for p in published
                ],
                region,
                0,
                y + 6,
                view="timeSeries",
                period=DAY_SECONDS,
            )
        )
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 12,
                "y": y + 6,
                "width": 12,
                "height": 6,
                "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
            }
        )
    return {"widgets": widgets}


# --- IAM, key and topic policies --------------------------------------------------------------


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def drift_irsa_trust_policy(
    oidc_provider_arn: str,
    oidc_provider_url: str,
    namespace: str = defaults.DEFAULT_NAMESPACE,
    service_account: str = defaults.DRIFT_SERVICE_ACCOUNT,
) -> PolicyDocument:
    """Trust for the drift task's pods only: the one service account, in the liminal namespace,
    through the cluster's OIDC provider (IRSA)."""
    return iam_policies.irsa_trust_policy(
        oidc_provider_arn,
        oidc_provider_url,
        f"system:serviceaccount:{namespace}:{service_account}",
    )


def drift_metrics_policy(namespaces: Sequence[str]) -> PolicyDocument:
    """What the drift task's pod may do on AWS: put metrics into its file's metrics namespace(s)
    (`drift_metrics_namespaces`), no more."""
    return _document(iam_policies.metrics_statement("PutDriftMetrics", namespaces))


def alert_key_policy(*, partition: str, account_id: str) -> PolicyDocument:
    """The alert topic's KMS key: the account administers it; CloudWatch alarms and AMP's
    Alertmanager, acting for this account, may encrypt messages to the topic (an SNS topic
    encrypted with the AWS-managed key cannot receive CloudWatch alarms: SNS developer guide,
    "Enable compatibility between event sources from AWS services and encrypted topics")."""
    return _document(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AlarmSourcesEncryptToTheTopic",
            "Effect": "Allow",
            "Principal": {"Service": sorted([CLOUDWATCH_PRINCIPAL, AMP_PRINCIPAL])},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def alert_topic_policy(*, topic_arn: str, account_id: str, workspace_arn: str) -> PolicyDocument:
    """Who may publish to the alert topic: this account's CloudWatch alarms, and AMP's
    Alertmanager for this workspace only; and never without TLS."""
    return _document(
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "PrometheusAlertmanagerPublishes",
            "Effect": "Allow",
            "Principal": {"Service": AMP_PRINCIPAL},
            "Action": ["sns:Publish", "sns:GetTopicAttributes"],
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnEquals": {"aws:SourceArn": workspace_arn},
            },
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def subscriptions(services: Iterable[MonitoredService]) -> list[tuple[str, str]]:
    """The topic's (protocol, endpoint) subscriptions: every service's `notify` entries, each
    once (the topic is the environment's, shared by its services), in a stable order."""
    found: dict[tuple[str, str], None] = {}
    for service in services:
        if service.alerts is None:
            continue
        for email in service.alerts.notify.email:
            found[("email", email)] = None
        for url in service.alerts.notify.https:
            found[("https", url)] = None
    return list(found)


def subscription_key(protocol: str, endpoint: str) -> str:
    """A short, stable resource-name suffix for a subscription (endpoints hold '@', '/', ...)."""
    import hashlib

    return f"{protocol}-{hashlib.sha256(endpoint.encode()).hexdigest()[:10]}"


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)
