"""Monitoring: alerts, dashboards and the metrics store of the project's monitored services.

Per environment: an Amazon Managed Service for Prometheus (AMP) workspace, its managed scraper
reading the monitored services' `/metrics` in the cluster (no agent to run), AMP's Alertmanager
routing to one KMS-encrypted SNS topic with the declared e-mail and HTTPS subscriptions, and the
drift task's IRSA role and service account. Per monitored service: an AMP rule group (error rate,
p99 latency), CloudWatch alarms (drift share, pipeline failure from JobResult) and a CloudWatch
dashboard. Why AMP and not CloudWatch Container Insights: see `plans/monitoring_plan.py`.

Every layout (scrape configuration, rules, alarms, dashboard JSON, policies) comes from
`liminal_pulumi.plans.monitoring_plan`; this component only turns them into resources. Give it
the cluster's Kubernetes provider in `opts` (the scraper's Role and the drift service account
are Kubernetes objects). Unmonitored services get nothing; a project without a monitored
service should not create this component at all (it refuses an empty `services`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from liminal_pulumi import defaults
from liminal_pulumi.components._options import child
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.plans import checks
from liminal_pulumi.plans import monitoring_plan as plan


@dataclass(frozen=True)
class MonitoringArgs:
    """Arguments of `Monitoring`.

    Attributes:
        services: the monitored services (`monitoring_plan.monitored_services(project)`);
            required, at least one.
        environment_name: prefix of every physical name (alarms, dashboards, topic, workspace
            alias), e.g. `liminal-prod`. Required.
        cluster: the EKS cluster (`Cluster.connection`, or one built for an existing cluster).
            The scraper reads its `name`/`arn` (the endpoint must allow private access, which
            the Cluster component always does); its network interfaces join the nodes' security
            group (`node_security_group_id`), which admits its own members to the pods' ports
            and to the cluster API (AMP user guide, managed collectors); the drift task's role
            trusts its IRSA provider (`oidc_provider_arn` and `oidc_provider_url`, refused when
            missing while a drift check publishes metrics to CloudWatch). Required.
        subnet_ids: private subnets for the scraper's network interfaces; refused: fewer than
            two (AMP's CreateScraper needs two, in two Availability Zones). Required.
        namespace: the Kubernetes namespace the services and the drift task run in; default
            `defaults.DEFAULT_NAMESPACE`.
        region: the stack's AWS region (dashboard links, Alertmanager's SigV4 region); default
            `defaults.STACK_REGION`.
        tags: tags of every AWS resource; default none.
    """

    services: tuple[plan.MonitoredService, ...]
    environment_name: str
    cluster: ClusterConnection
    subnet_ids: Sequence[pulumi.Input[str]]
    namespace: str = defaults.DEFAULT_NAMESPACE
    region: str = defaults.STACK_REGION
    tags: dict[str, str] = field(default_factory=dict)


def validate(name: str, args: MonitoringArgs) -> None:
    """Every problem with `args` at once, in one `ComponentArgumentError`."""
    problems = checks.Problems(f"Monitoring {name!r}")
    if not args.services:
        problems.add("services", "list at least one monitored service")
    if len(args.subnet_ids) < 2:
        problems.add("subnet_ids", "the scraper needs at least two subnets, in two AZs")
    needs_irsa = bool(plan.drift_metrics_namespaces(args.services))
    if needs_irsa and (
        args.cluster.oidc_provider_arn is None or args.cluster.oidc_provider_url is None
    ):
        problems.add(
            "cluster", "give its OIDC provider: a drift check publishes metrics (an IRSA role)"
        )
    problems.raise_if_any()


class Monitoring(pulumi.ComponentResource):
    """The monitored services' metrics, alerts and dashboards (type `liminal:aws:Monitoring`).

    Creates an Amazon Managed Service for Prometheus workspace and its managed scraper (reading
    the monitored services' pods' `/metrics`, with an EKS access entry and a namespaced Role to
    list pods), a KMS-encrypted SNS topic with the declared e-mail and HTTPS subscriptions, and
    per monitored service its alert rules (error rate, p99 latency) routed by AMP's
    Alertmanager to the topic, CloudWatch alarms (drift share, pipeline failure) and a
    CloudWatch dashboard; plus the drift task's IRSA role and service account when a drift
    check publishes to CloudWatch (`liminal_pulumi.plans.monitoring_plan`).

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        topic_arn: the environment's alert topic.
        workspace_id: the AMP workspace's id.
        workspace_arn: the AMP workspace's ARN.
        dashboard_urls: service name -> the console URL of its CloudWatch dashboard.
        drift_role_arn: the drift task's IRSA role, or None without drift metrics.
        drift_service_account: the service account the drift task's pods run as, or None.
    """

    topic_arn: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    workspace_arn: pulumi.Output[str]
    dashboard_urls: dict[str, pulumi.Output[str]]
    drift_role_arn: pulumi.Output[str] | None
    drift_service_account: str | None

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:Monitoring", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        env = args.environment_name

        workspace = aws.amp.Workspace(
            f"{name}-prometheus", alias=f"{env}-monitoring", tags=args.tags, opts=child(self)
        )
        self.workspace_id = workspace.id
        self.workspace_arn = workspace.arn
        self.topic_arn = self._topic(
            name, args, workspace, identity.account_id, partition.partition
        )
        self._scraper(name, args, workspace)
        aws.amp.AlertManagerDefinition(
            f"{name}-alertmanager",
            workspace_id=workspace.id,
            definition=self.topic_arn.apply(
                lambda arn: plan.alertmanager_definition(arn, args.region)
            ),
            opts=child(self),
        )
        self.dashboard_urls = {
            service.service: self._service(name, args, service, workspace)
            for service in args.services
        }
        self.drift_role_arn, self.drift_service_account = self._drift_identity(name, args)
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "workspace_id": self.workspace_id,
                "workspace_arn": self.workspace_arn,
                "dashboard_urls": self.dashboard_urls,
                "drift_role_arn": self.drift_role_arn,
            }
        )

    def _topic(
        self,
        name: str,
        args: MonitoringArgs,
        workspace: aws.amp.Workspace,
        account_id: pulumi.Output[str],
        partition: pulumi.Output[str],
    ) -> pulumi.Output[str]:
        key = aws.kms.Key(
            f"{name}-alerts",
            description=f"Encrypts the alert topic of {args.environment_name}",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.all(partition, account_id).apply(
                lambda v: plan.to_json(plan.alert_key_policy(partition=v[0], account_id=v[1]))
            ),
            tags=args.tags,
            opts=child(self),
        )
        topic = aws.sns.Topic(
            f"{name}-alerts",
            name=f"{args.environment_name}-alerts",
            display_name=f"liminal alerts ({args.environment_name})",
            kms_master_key_id=key.arn,
            tags=args.tags,
            opts=child(self),
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account_id, workspace.arn).apply(
                lambda v: plan.to_json(
                    plan.alert_topic_policy(topic_arn=v[0], account_id=v[1], workspace_arn=v[2])
                )
            ),
            opts=child(self),
        )
        for protocol, endpoint in plan.subscriptions(args.services):
            # E-mail and HTTPS subscribers confirm by themselves (SNS sends them a link).
            aws.sns.TopicSubscription(
                f"{name}-alerts-{plan.subscription_key(protocol, endpoint)}",
                topic=topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=child(self),
            )
        return topic.arn

    def _scraper(self, name: str, args: MonitoringArgs, workspace: aws.amp.Workspace) -> None:
        scraper = aws.amp.Scraper(
            f"{name}-scraper",
            alias=f"{args.environment_name}-services",
            source=aws.amp.ScraperSourceArgs(
                eks=aws.amp.ScraperSourceEksArgs(
                    cluster_arn=args.cluster.arn,
                    subnet_ids=list(args.subnet_ids),
                    security_group_ids=[args.cluster.node_security_group_id],
                )
            ),
            destination=aws.amp.ScraperDestinationArgs(
                amp=aws.amp.ScraperDestinationAmpArgs(workspace_arn=workspace.arn)
            ),
            scrape_configuration=plan.scrape_configuration(args.services, args.namespace),
            tags=args.tags,
            opts=child(self),
        )
        # The scraper discovers pods through the API server: an access entry for its role, and
        # a Role in the liminal namespace only (list and watch pods), bound to that user.
        aws.eks.AccessEntry(
            f"{name}-scraper",
            cluster_name=args.cluster.name,
            # unknown (None) in a preview or under echo mocks: passed on as is
            principal_arn=scraper.role_arn.apply(
                lambda arn: plan.scraper_access_principal(arn) if arn else arn
            ),
            user_name=defaults.SCRAPER_KUBERNETES_USER,
            tags=args.tags,
            opts=child(self),
        )
        role_name = defaults.SCRAPER_KUBERNETES_USER
        role = k8s.rbac.v1.Role(
            f"{name}-scraper",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=args.namespace),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=rule["apiGroups"], resources=rule["resources"], verbs=rule["verbs"]
                )
                for rule in plan.scraper_role_rules()
            ],
            opts=child(self),
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-scraper",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=args.namespace),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role_name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    api_group="rbac.authorization.k8s.io",
                    kind="User",
                    name=defaults.SCRAPER_KUBERNETES_USER,
                )
            ],
            opts=child(self, depends_on=[role]),
        )

    def _service(
        self,
        name: str,
        args: MonitoringArgs,
        service: plan.MonitoredService,
        workspace: aws.amp.Workspace,
    ) -> pulumi.Output[str]:
        prefix = f"{name}-{service.k8s_name}"
        rules = plan.alert_rules(service)
        if rules is not None:
            aws.amp.RuleGroupNamespace(
                f"{prefix}-rules",
                name=f"liminal-{service.k8s_name}",
                workspace_id=workspace.id,
                data=rules,
                tags=args.tags,
                opts=child(self),
            )
        alarm_arns = []
        for alarm in plan.cloudwatch_alarms(service, args.environment_name):
            created = aws.cloudwatch.MetricAlarm(
                f"{prefix}-{alarm.key}",
                name=alarm.name,
                alarm_description=alarm.description,
                namespace=alarm.namespace,
                metric_name=alarm.metric_name,
                dimensions=dict(alarm.dimensions),
                statistic=alarm.statistic,
                period=alarm.period,
                evaluation_periods=alarm.evaluation_periods,
                threshold=alarm.threshold,
                comparison_operator=alarm.comparison_operator,
                treat_missing_data=alarm.treat_missing_data,
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
                tags=args.tags,
                opts=child(self),
            )
            alarm_arns.append(created.arn)
        dashboard_name = plan.dashboard_name(args.environment_name, service)
        dashboard = aws.cloudwatch.Dashboard(
            f"{prefix}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.all(workspace.id, *alarm_arns).apply(
                lambda v: json.dumps(plan.dashboard_body(service, args.region, v[0], v[1:]))
            ),
            opts=child(self),
        )
        return dashboard.dashboard_name.apply(lambda n: plan.dashboard_url(args.region, n))

    def _drift_identity(
        self, name: str, args: MonitoringArgs
    ) -> tuple[pulumi.Output[str] | None, str | None]:
        """The drift task's IRSA role (put metrics into its files' namespaces only) and the
        service account its pods run as; none when no drift task publishes to CloudWatch."""
        # Only drift tasks that publish to CloudWatch need AWS credentials.
        namespaces = plan.drift_metrics_namespaces(args.services)
        if not namespaces:
            return None, None
        account = defaults.DRIFT_SERVICE_ACCOUNT
        role = aws.iam.Role(
            f"{name}-drift",
            description=f"The drift task's pods in {args.environment_name} (IRSA)",
            assume_role_policy=pulumi.Output.all(
                args.cluster.oidc_provider_arn, args.cluster.oidc_provider_url
            ).apply(
                lambda v: plan.to_json(
                    plan.drift_irsa_trust_policy(v[0], v[1], args.namespace, account)
                )
            ),
            tags=args.tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-drift-metrics",
            role=role.name,
            policy=plan.to_json(plan.drift_metrics_policy(namespaces)),
            opts=child(self),
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-drift",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=account,
                namespace=args.namespace,
                annotations={"eks.amazonaws.com/role-arn": role.arn},
                labels={"app.kubernetes.io/managed-by": "pulumi"},
            ),
            opts=child(self),
        )
        return role.arn, account
