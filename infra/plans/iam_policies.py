"""Every IAM and resource policy document of the platform, as plain dicts.

Components serialise these with `json.dumps` once the ARNs they name are known. No statement
here allows a `*` action; the few statements on `Resource: "*"` are the ones AWS offers no
resource-level permission for (listing log groups, the account's public access block, metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PolicyDocument = dict[str, Any]
VERSION = "2012-10-17"

MWAA_SERVICE_PRINCIPALS = ("airflow.amazonaws.com", "airflow-env.amazonaws.com")
MWAA_METRICS_NAMESPACE = "AmazonMWAA"
EKS_EDIT_ACCESS_POLICY = "AmazonEKSEditPolicy"
EFS_CSI_SERVICE_ACCOUNT_PATTERN = "system:serviceaccount:kube-system:efs-csi-*"
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
)
EFS_CSI_MANAGED_POLICY = "service-role/AmazonEFSCSIDriverPolicy"


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def eks_access_policy_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": VERSION, "Statement": list(statements)}


def service_trust_policy(
    services: Sequence[str], source_account: str | None = None
) -> PolicyDocument:
    """A role trust policy for AWS services, optionally limited to calls made for one account."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": sorted(services)},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return _document(statement)


def mwaa_execution_trust_policy() -> PolicyDocument:
    return service_trust_policy(MWAA_SERVICE_PRINCIPALS)


def node_trust_policy() -> PolicyDocument:
    return service_trust_policy(["ec2.amazonaws.com"])


def mwaa_execution_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    environment_name: str,
    bucket_arn: str,
    kms_key_arn: str,
    metrics_namespaces: Sequence[str] = (),
) -> PolicyDocument:
    """What an MWAA environment needs, limited to its bucket, logs, queues and key.

    `metrics_namespaces`: the CloudWatch namespaces the project's pipelines publish job metrics
    to (liminal.yml `metrics.backends: [cloudwatch]`; `monitoring_plan.pipeline_metrics_namespaces`)
    beside MWAA's own `AmazonMWAA`; PutMetricData is allowed into those namespaces only.

    AWS's sample execution policy also denies `s3:ListAllMyBuckets` on the bucket's ARNs; that
    action takes only `Resource: "*"` (Service Authorization Reference, Amazon S3, "Actions
    defined by Amazon S3"), so such a statement matches no request. Nothing here allows it, and
    IAM denies what no statement allows, so no statement is needed.
    """
    log_groups = (
        f"arn:{partition}:logs:{region}:{account_id}:log-group:airflow-{environment_name}-*"
    )
    return _document(
        {
            "Sid": "PublishMetricsOfThisEnvironment",
            "Effect": "Allow",
            "Action": "airflow:PublishMetrics",
            "Resource": (
                f"arn:{partition}:airflow:{region}:{account_id}:environment/{environment_name}"
            ),
        },
        {
            "Sid": "ReadThisBucket",
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketLocation",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:ListBucket",
                "s3:ListBucketVersions",
            ],
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
        },
        {
            "Sid": "CheckAccountPublicAccessBlock",
            "Effect": "Allow",
            "Action": "s3:GetAccountPublicAccessBlock",
            "Resource": "*",
        },
        {
            "Sid": "WriteThisEnvironmentsLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:GetLogGroupFields",
                "logs:GetLogRecord",
                "logs:GetQueryResults",
                "logs:PutLogEvents",
            ],
            "Resource": [log_groups, f"{log_groups}:*"],
        },
        {
            "Sid": "FindLogGroups",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": "*",
        },
        metrics_statement(
            "PublishMwaaAndPipelineMetrics", [MWAA_METRICS_NAMESPACE, *metrics_namespaces]
        ),
        {
            "Sid": "UseCeleryQueues",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            "Resource": f"arn:{partition}:sqs:{region}:*:airflow-celery-*",
        },
        {
            "Sid": "UseThisKeyThroughSqsAndS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
            "Condition": {
                "StringLike": {
                    "kms:ViaService": [
                        f"sqs.{region}.amazonaws.com",
                        f"s3.{region}.amazonaws.com",
                    ]
                }
            },
        },
    )


def metrics_statement(sid: str, namespaces: Sequence[str]) -> dict[str, Any]:
    """Allow `cloudwatch:PutMetricData` into `namespaces` only. The action has no resource-level
    permission (Resource `*`); the `cloudwatch:namespace` condition key limits it (CloudWatch
    user guide, "Using condition keys to limit access to CloudWatch namespaces")."""
    names = sorted(set(namespaces))
    if not names:
        raise ValueError("metrics_statement needs at least one namespace")
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"cloudwatch:namespace": names[0] if len(names) == 1 else names}
        },
    }


def mwaa_cluster_policy(cluster_arn: str) -> PolicyDocument:
    """Kept apart from the execution policy so that the environment never waits for the
    cluster: only `EksPodOperator` needs it, at run time, to read the cluster's endpoint and
    certificate (EksHook.generate_config_file calls DescribeCluster). Its token is a presigned
    STS GetCallerIdentity, which needs no permission."""
    return _document(
        {
            "Sid": "FindThisCluster",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": cluster_arn,
        }
    )


def efs_csi_irsa_trust_policy(oidc_provider_arn: str, oidc_provider_url: str) -> PolicyDocument:
    """Trust for the EFS CSI driver's service accounts, through the cluster's OIDC provider."""
    issuer = oidc_provider_url.removeprefix("https://")
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{issuer}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{issuer}:sub": EFS_CSI_SERVICE_ACCOUNT_PATTERN},
            },
        }
    )


def irsa_trust_policy(
    oidc_provider_arn: str, oidc_provider_url: str, subject: str
) -> PolicyDocument:
    """Trust for one Kubernetes service account (`system:serviceaccount:<ns>:<name>`), through
    the cluster's OIDC provider, with the STS audience (EKS user guide, "IAM roles for service
    accounts")."""
    issuer = oidc_provider_url.removeprefix("https://")
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{issuer}:aud": "sts.amazonaws.com",
                    f"{issuer}:sub": subject,
                }
            },
        }
    )


def bucket_tls_only_policy(bucket_arn: str) -> PolicyDocument:
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def efs_tls_only_policy(file_system_arn: str) -> PolicyDocument:
    """Mounts only through a mount target, never as root, and never without TLS."""
    return _document(
        {
            "Sid": "MountThroughMountTargets",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": file_system_arn,
            "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "elasticfilesystem:*",
            "Resource": file_system_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def flow_logs_trust_policy(account_id: str) -> PolicyDocument:
    return service_trust_policy(["vpc-flow-logs.amazonaws.com"], source_account=account_id)


def flow_logs_policy(log_group_arn: str) -> PolicyDocument:
    return _document(
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }
    )


def logs_kms_key_policy(*, partition: str, region: str, account_id: str) -> PolicyDocument:
    """Key policy: the account administers the key (AWS's default); CloudWatch Logs may use it
    for this account's log groups in this region."""
    return _document(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsUsesKey",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{partition}:logs:{region}:{account_id}:*"
                    )
                }
            },
        },
    )


def all_actions(document: PolicyDocument) -> list[str]:
    """Every action named by the document's statements (for checks and tests)."""
    actions: list[str] = []
    for statement in document["Statement"]:
        named = statement.get("Action", [])
        actions.extend([named] if isinstance(named, str) else named)
    return actions
