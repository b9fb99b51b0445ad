"""Airflow: an MWAA environment, its bucket and everything the DAG loader needs in it, an
execution role scoped to this environment, and the way from MWAA to the cluster.

MWAA reaches the cluster through the Amazon provider's `EksPodOperator` (chosen by the DAG loader
from the deployment facts' cluster name): it signs its own EKS token with the execution role, so
the bucket holds no kubeconfig and the workers need no AWS CLI. What MWAA needs for it: the
execution role's `eks:DescribeCluster` on this cluster, an access entry scoped to the workloads'
namespace, and HTTPS from MWAA's security group to the cluster's.

Only the cluster access entry, the cluster security group rule and the `eks:DescribeCluster`
policy wait for the cluster; the environment itself needs only the network, the bucket and the
role, so EKS and MWAA are created side by side.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pulumi
import pulumi_aws as aws

from liminal_pulumi import defaults
from liminal_pulumi.airflow.bundle import AIRFLOWIGNORE_NAME, NOT_DAG_FOLDERS, airflowignore
from liminal_pulumi.airflow.deployment import FACTS_FILE_NAME
from liminal_pulumi.components._options import child, merged_tags, stateful
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.plans import checks, iam_policies
from liminal_pulumi.plans.mwaa_requirements import requirements_txt

DagFile = pulumi.Asset | Path | str | bytes
MWAA_SUBNET_COUNT = 2
MAX_WORKERS = 25  # MWAA's quota of workers per environment (Amazon MWAA User Guide, quotas)
HTTPS_PORT = 443
BUCKET_PREFIX_MAX = 37  # S3's limit for bucket_prefix


@dataclass(frozen=True)
class AirflowArgs:
    """Arguments of `Airflow`.

    Attributes:
        environment_name: the MWAA environment's name; also the bucket's prefix
            (`airflow-<name>-`). Refused unless it matches
            `liminal_pulumi.plans.checks.ENVIRONMENT_NAME`. Required.
        vpc_id: the VPC of the environment's security group. Required.
        private_subnet_ids: exactly two private subnets in two AZs (MWAA's requirement; Amazon
            MWAA User Guide, "About networking on Amazon MWAA"). Required.
        cluster: the EKS cluster task pods run on (`Cluster.connection`, or built for an
            existing cluster): its name goes into the deployment facts (the pod operator,
            `EksPodOperator`, builds its token from the execution role: no kubeconfig, no AWS
            CLI), its security group admits MWAA, the execution role may describe it (its ARN),
            and an access entry lets the role edit `namespace`. Required.
        region: the AWS region (`us-east-1`), for the execution policy. Required.
        dag_files: dags-folder-relative name -> file (a `pulumi.Asset`, a path as `Path` or
            `str`, or the content as `bytes`), e.g. `liminal_pulumi.airflow.bundle` output
            (default none). Refused: a name that is absolute or escapes the folder (`..`).
        not_dag_folders: folders at the DAGs folder's root that hold no DAG file, listed in the
            uploaded `.airflowignore` in the syntax the Airflow version reads by default
            (default `liminal_pulumi.airflow.bundle.NOT_DAG_FOLDERS`: the package and the
            projects).
        deployment_facts: JSON of `liminal_pulumi.airflow.deployment.DeploymentFacts`, uploaded
            beside the loader (default `"{}"`).
        namespace: the Kubernetes namespace task pods run in (default
            `defaults.DEFAULT_NAMESPACE`).
        airflow_version: the Airflow version MWAA runs; one of
            `defaults.SUPPORTED_AIRFLOW_VERSIONS` (default `defaults.AIRFLOW_VERSION`).
        environment_class: MWAA's environment size; one of `defaults.MWAA_ENVIRONMENT_CLASSES`
            (default `defaults.MWAA_ENVIRONMENT_CLASS`, `mw1.small`).
        min_workers: workers at least, 1 to 25 (default `defaults.MWAA_MIN_WORKERS`).
        max_workers: workers at most, `min_workers` to 25 (default `defaults.MWAA_MAX_WORKERS`).
            MWAA's limits (Amazon MWAA User Guide, "Amazon MWAA quotas").
        webserver_access_mode: one of `defaults.MWAA_WEBSERVER_ACCESS_MODES` (default
            `defaults.MWAA_WEBSERVER_ACCESS_MODE`, `PRIVATE_ONLY`: the UI only from the VPC).
        liminal_home: where the loader finds projects on the workers (default
            `defaults.MWAA_LIMINAL_HOME`).
        requirements: packages MWAA installs besides its own, resolved under the version's
            constraints (default `defaults.MWAA_EXTRA_REQUIREMENTS`).
        metrics_namespaces: CloudWatch namespaces the pipelines publish their job metrics to
            (`monitoring_plan.pipeline_metrics_namespaces(project)`); the execution role may put
            metrics in these (and MWAA's own `AmazonMWAA`) only. Default none.
        protect: protect and retain the bucket and the KMS key (default `False`).
        tags: tags on every AWS resource (default none).
    """

    environment_name: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    cluster: ClusterConnection
    region: str
    dag_files: Mapping[str, DagFile] = field(default_factory=dict)
    not_dag_folders: Sequence[str] = NOT_DAG_FOLDERS
    deployment_facts: pulumi.Input[str] = "{}"
    namespace: str = defaults.DEFAULT_NAMESPACE
    airflow_version: str = defaults.AIRFLOW_VERSION
    environment_class: str = defaults.MWAA_ENVIRONMENT_CLASS
    min_workers: int = defaults.MWAA_MIN_WORKERS
    max_workers: int = defaults.MWAA_MAX_WORKERS
    webserver_access_mode: str = defaults.MWAA_WEBSERVER_ACCESS_MODE
    liminal_home: str = defaults.MWAA_LIMINAL_HOME
    requirements: Sequence[str] = defaults.MWAA_EXTRA_REQUIREMENTS
    # CloudWatch namespaces the pipelines publish job metrics to (beside AmazonMWAA).
    metrics_namespaces: Sequence[str] = ()
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)


def dags_key(relative: str) -> str:
    """The S3 key of a file in the dags folder; refuses names that would escape it."""
    path = PurePosixPath(relative.replace("\\", "/"))
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise ValueError(f"dag file name {relative!r} must be relative to the dags folder")
    return f"{defaults.MWAA_DAGS_FOLDER}/{path.as_posix()}"


@dataclass(frozen=True)
class ObjectBody:
    """Exactly one of the ways BucketObjectv2 takes a body."""

    source: pulumi.Asset | None = None
    content: str | None = None
    content_base64: str | None = None


def object_body(file: DagFile) -> ObjectBody:
    if isinstance(file, pulumi.Asset):
        return ObjectBody(source=file)
    if isinstance(file, Path | str):
        return ObjectBody(source=pulumi.FileAsset(str(file)))
    try:
        return ObjectBody(content=file.decode("utf-8"))
    except UnicodeDecodeError:
        return ObjectBody(content_base64=base64.b64encode(file).decode("ascii"))


def airflow_configuration_options(args: AirflowArgs) -> dict[str, str]:
    """MWAA's Airflow configuration overrides: only where the loader finds the projects.

    No `kubernetes_executor.*` option: MWAA runs the Celery executor, and the pod operators take
    their cluster, namespace and credentials from their own arguments.
    """
    return {"core.liminal_home": args.liminal_home}


def all_logs(level: str) -> aws.mwaa.EnvironmentLoggingConfigurationArgs:
    """Every one of MWAA's five log types on."""
    mwaa = aws.mwaa
    return mwaa.EnvironmentLoggingConfigurationArgs(
        dag_processing_logs=mwaa.EnvironmentLoggingConfigurationDagProcessingLogsArgs(
            enabled=True, log_level=level
        ),
        scheduler_logs=mwaa.EnvironmentLoggingConfigurationSchedulerLogsArgs(
            enabled=True, log_level=level
        ),
        task_logs=mwaa.EnvironmentLoggingConfigurationTaskLogsArgs(enabled=True, log_level=level),
        webserver_logs=mwaa.EnvironmentLoggingConfigurationWebserverLogsArgs(
            enabled=True, log_level=level
        ),
        worker_logs=mwaa.EnvironmentLoggingConfigurationWorkerLogsArgs(
            enabled=True, log_level=level
        ),
    )


def validate(name: str, args: AirflowArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource."""
    problems = checks.Problems(f"Airflow {name!r}")
    problems.check("environment_name", checks.environment_name(args.environment_name))
    if len(args.private_subnet_ids) != MWAA_SUBNET_COUNT:
        problems.add(
            "private_subnet_ids",
            f"MWAA takes exactly {MWAA_SUBNET_COUNT} private subnets, "
            f"got {len(args.private_subnet_ids)}",
        )
    problems.one_of("airflow_version", args.airflow_version, defaults.SUPPORTED_AIRFLOW_VERSIONS)
    problems.one_of(
        "webserver_access_mode", args.webserver_access_mode, defaults.MWAA_WEBSERVER_ACCESS_MODES
    )
    problems.one_of("environment_class", args.environment_class, defaults.MWAA_ENVIRONMENT_CLASSES)
    if not 1 <= args.min_workers <= args.max_workers <= MAX_WORKERS:
        problems.add(
            "min_workers/max_workers",
            f"need 1 <= min ({args.min_workers}) <= max ({args.max_workers}) <= {MAX_WORKERS}",
        )
    for relative in args.dag_files:
        try:
            dags_key(relative)
        except ValueError as error:
            problems.add("dag_files", str(error))
    problems.raise_if_any()


class Airflow(pulumi.ComponentResource):
    """Amazon MWAA running the liminal DAG loader (type `liminal:aws:Airflow`).

    Creates a KMS key (environment, bucket, logs); the environment's S3 bucket (versioned,
    KMS-encrypted, all public access blocked, owner-enforced, TLS-only policy) holding
    `requirements.txt`, the `dag_files`, the deployment facts and an `.airflowignore`;
    an execution role whose policy names only this environment, bucket, key, queues and log
    groups, plus `eks:DescribeCluster` on the cluster; a security group (self-referencing,
    egress for AWS APIs, the cluster and the package index); an ingress rule on the cluster's
    security group and an EKS access entry editing `namespace` only; and the MWAA environment
    (private web server by default, every log type on). Only the ingress rule, the access entry
    and the cluster policy wait for the cluster: EKS and MWAA are created side by side.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        webserver_url: the Airflow UI's host name.
        bucket_name: the environment's bucket.
        bucket_arn: its ARN.
        environment_arn: the MWAA environment's ARN.
        execution_role_arn: the execution role's ARN.
        security_group_id: the environment's security group.
        requirements_version: the S3 version of `requirements.txt` MWAA installs.
    """

    webserver_url: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    environment_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    requirements_version: pulumi.Output[str]

    def __init__(
        self, name: str, args: AirflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:Airflow", name, None, opts)
        keys = {relative: dags_key(relative) for relative in args.dag_files}
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        env = args.environment_name

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts MWAA environment {env}, its bucket and its logs",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.KMS_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.all(partition, account_id).apply(
                lambda v: json.dumps(
                    iam_policies.logs_kms_key_policy(
                        partition=v[0], region=args.region, account_id=v[1]
                    )
                )
            ),
            tags=args.tags,
            opts=stateful(self, args.protect),
        )
        bucket, bucket_ready, versioning = self._bucket(name, args, key)

        requirements = aws.s3.BucketObjectv2(
            f"{name}-requirements",
            bucket=bucket.id,
            key=defaults.MWAA_REQUIREMENTS_KEY,
            content=requirements_txt(args.airflow_version, args.requirements),
            content_type="text/plain",
            # The object must be written after versioning is on, or it has no version id.
            opts=child(self, depends_on=bucket_ready),
        )
        for relative, file in args.dag_files.items():
            body = object_body(file)
            aws.s3.BucketObjectv2(
                f"{name}-dag-{relative}",
                bucket=bucket.id,
                key=keys[relative],
                source=body.source,
                content=body.content,
                content_base64=body.content_base64,
                opts=child(self, depends_on=bucket_ready),
            )
        aws.s3.BucketObjectv2(
            f"{name}-deployment-facts",
            bucket=bucket.id,
            key=dags_key(FACTS_FILE_NAME),
            content=args.deployment_facts,
            content_type="application/json",
            opts=child(self, depends_on=bucket_ready),
        )
        # Keeps the DAG processor out of the bundled package and the projects: each of its
        # modules would otherwise be imported as a DAG file on every parse cycle.
        aws.s3.BucketObjectv2(
            f"{name}-airflowignore",
            bucket=bucket.id,
            key=dags_key(AIRFLOWIGNORE_NAME),
            content=airflowignore(args.airflow_version, tuple(args.not_dag_folders)),
            content_type="text/plain",
            opts=child(self, depends_on=bucket_ready),
        )

        role, role_policy = self._execution_role(name, args, bucket.arn, key.arn, partition)
        security_group = self._security_group(name, args)
        self._cluster_access(name, args, role, security_group)

        environment = aws.mwaa.Environment(
            f"{name}-mwaa",
            name=env,
            airflow_version=args.airflow_version,
            environment_class=args.environment_class,
            min_workers=args.min_workers,
            max_workers=args.max_workers,
            execution_role_arn=role.arn,
            kms_key=key.arn,
            source_bucket_arn=bucket.arn,
            dag_s3_path=defaults.MWAA_DAGS_FOLDER,
            requirements_s3_path=requirements.key,
            requirements_s3_object_version=requirements.version_id,
            airflow_configuration_options=airflow_configuration_options(args),
            webserver_access_mode=args.webserver_access_mode,
            network_configuration=aws.mwaa.EnvironmentNetworkConfigurationArgs(
                security_group_ids=[security_group.id],
                subnet_ids=list(args.private_subnet_ids),
            ),
            logging_configuration=all_logs(defaults.AIRFLOW_LOG_LEVEL),
            tags=args.tags,
            opts=child(self, depends_on=[*bucket_ready, versioning, role_policy]),
        )

        self.webserver_url = environment.webserver_url
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.environment_arn = environment.arn
        self.execution_role_arn = role.arn
        self.security_group_id = security_group.id
        self.requirements_version = requirements.version_id
        self.register_outputs(
            {
                "webserver_url": self.webserver_url,
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "environment_arn": self.environment_arn,
                "execution_role_arn": self.execution_role_arn,
                "security_group_id": self.security_group_id,
                "requirements_version": self.requirements_version,
            }
        )

    def _bucket(
        self, name: str, args: AirflowArgs, key: aws.kms.Key
    ) -> tuple[aws.s3.Bucket, list[pulumi.Resource], aws.s3.BucketVersioning]:
        # MWAA only accepts buckets whose name starts with "airflow-".
        prefix = f"airflow-{args.environment_name.lower()}"[: BUCKET_PREFIX_MAX - 1] + "-"
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=prefix,
            # Unprotected stacks (dev) tear down with their objects; prod keeps them.
            force_destroy=not args.protect,
            tags=args.tags,
            opts=stateful(self, args.protect),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child(self),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child(self),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child(self),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(iam_policies.bucket_tls_only_policy(arn))
            ),
            opts=child(self, depends_on=[public_access]),
        )
        return bucket, [versioning, encryption, public_access, ownership, policy], versioning

    def _execution_role(
        self,
        name: str,
        args: AirflowArgs,
        bucket_arn: pulumi.Output[str],
        key_arn: pulumi.Output[str],
        partition: pulumi.Output[str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        # The path stays "/": EKS access entries do not match role ARNs with a path.
        role = aws.iam.Role(
            f"{name}-execution",
            path="/",
            assume_role_policy=json.dumps(iam_policies.mwaa_execution_trust_policy()),
            tags=args.tags,
            opts=child(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-execution",
            role=role.id,
            policy=pulumi.Output.all(partition, account_id, bucket_arn, key_arn).apply(
                lambda v: json.dumps(
                    iam_policies.mwaa_execution_policy(
                        partition=v[0],
                        region=args.region,
                        account_id=v[1],
                        environment_name=args.environment_name,
                        bucket_arn=v[2],
                        kms_key_arn=v[3],
                        metrics_namespaces=args.metrics_namespaces,
                    )
                )
            ),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-execution-cluster",
            role=role.id,
            policy=pulumi.Output.from_input(args.cluster.arn).apply(
                lambda arn: json.dumps(iam_policies.mwaa_cluster_policy(arn))
            ),
            opts=child(self),
        )
        return role, policy

    def _security_group(self, name: str, args: AirflowArgs) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{name}-mwaa",
            description=f"MWAA environment {args.environment_name}",
            vpc_id=args.vpc_id,
            tags=merged_tags(args.tags, Name=f"{name}-mwaa"),
            opts=child(self),
        )
        # MWAA's own parts talk to each other through this group; without it no DAG is parsed.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-mwaa-self",
            security_group_id=group.id,
            referenced_security_group_id=group.id,
            ip_protocol="-1",
            description="MWAA components among themselves",
            opts=child(self),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-mwaa-egress",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="AWS APIs, the cluster endpoint and the package index",
            opts=child(self),
        )
        return group

    def _cluster_access(
        self,
        name: str,
        args: AirflowArgs,
        role: aws.iam.Role,
        security_group: aws.ec2.SecurityGroup,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-mwaa-to-cluster",
            security_group_id=args.cluster.cluster_security_group_id,
            referenced_security_group_id=security_group.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            description=f"Kubernetes API from MWAA {args.environment_name}",
            opts=child(self),
        )
        entry = aws.eks.AccessEntry(
            f"{name}-access-entry",
            cluster_name=args.cluster.name,
            principal_arn=role.arn,
            type="STANDARD",
            tags=args.tags,
            opts=child(self),
        )
        aws.eks.AccessPolicyAssociation(
            f"{name}-edit-namespace",
            cluster_name=entry.cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=aws.get_partition_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).partition.apply(
                lambda p: iam_policies.eks_access_policy_arn(iam_policies.EKS_EDIT_ACCESS_POLICY, p)
            ),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                type="namespace", namespaces=[args.namespace]
            ),
            opts=child(self),
        )
