"""The policies of the pack: each pure check bound to the resource types it inspects."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import ecr, efs, eks, iam, monitoring, mwaa, network, s3
from .companions import (
    BUCKET_COMPANIONS,
    FILE_SYSTEM_COMPANIONS,
    REPOSITORY_COMPANIONS,
    VPC_COMPANIONS,
    CompanionRule,
    missing_companions,
)
from .enforcement import PROTECTION_POLICY, policy_levels
from .protection import check_protected
from .resources import (
    EC2_DEFAULT_SECURITY_GROUP,
    EC2_LAUNCH_TEMPLATE,
    ECR_REPOSITORY,
    EFS_BACKUP_POLICY,
    EFS_FILE_SYSTEM,
    EFS_FILE_SYSTEM_POLICY,
    EKS_CLUSTER,
    EKS_NODE_GROUP,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    MWAA_ENVIRONMENT,
    PULUMI_EKS_CLUSTER,
    PULUMI_EKS_MANAGED_NODE_GROUP,
    S3_BUCKET_POLICY,
    S3_ENCRYPTION,
    S3_OWNERSHIP_CONTROLS,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_VERSIONING,
    Resource,
    Violation,
)

PropsCheck = Callable[[Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Resource]], list[Violation]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    checks: Mapping[str, PropsCheck]  # type token -> check of that type's inputs


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck


RESOURCE_RULES = (
    ResourceRule(
        "s3-public-access-blocked",
        "S3 buckets block public access with all four flags.",
        {S3_PUBLIC_ACCESS_BLOCK: s3.check_public_access_block},
    ),
    ResourceRule(
        "s3-encrypted-with-kms",
        "S3 buckets are encrypted with KMS.",
        {S3_ENCRYPTION: s3.check_encryption},
    ),
    ResourceRule("s3-versioned", "S3 buckets are versioned.", {S3_VERSIONING: s3.check_versioning}),
    ResourceRule(
        "s3-tls-only",
        "S3 bucket policies deny requests without TLS.",
        {S3_BUCKET_POLICY: s3.check_bucket_policy},
    ),
    ResourceRule(
        "s3-owner-enforced",
        "S3 buckets disable ACLs (BucketOwnerEnforced).",
        {S3_OWNERSHIP_CONTROLS: s3.check_ownership_controls},
    ),
    ResourceRule(
        "ecr-immutable-scanned-encrypted",
        "ECR repositories have immutable tags, scan on push and KMS encryption.",
        {ECR_REPOSITORY: ecr.check_repository},
    ),
    ResourceRule(
        "efs-encrypted-tls-backed-up",
        "EFS file systems are KMS-encrypted, TLS-only and backed up.",
        {
            EFS_FILE_SYSTEM: efs.check_file_system,
            EFS_FILE_SYSTEM_POLICY: efs.check_file_system_policy,
            EFS_BACKUP_POLICY: efs.check_backup_policy,
        },
    ),
    ResourceRule(
        "eks-cluster-hardened",
        "EKS encrypts secrets with KMS, logs api/audit/authenticator, keeps its endpoint private "
        "(or CIDR-limited) and authenticates through access entries.",
        {EKS_CLUSTER: eks.check_cluster, PULUMI_EKS_CLUSTER: eks.check_pulumi_eks_cluster},
    ),
    ResourceRule(
        "eks-nodes-require-imdsv2",
        "Cluster nodes require IMDSv2 (launch template metadata httpTokens=required).",
        {
            EC2_LAUNCH_TEMPLATE: eks.check_launch_template,
            EKS_NODE_GROUP: eks.check_node_group,
            PULUMI_EKS_MANAGED_NODE_GROUP: eks.check_pulumi_eks_managed_node_group,
        },
    ),
    ResourceRule(
        "mwaa-private-and-logged",
        "MWAA's web server is private, all five log types are on, requirements pinned by version.",
        {MWAA_ENVIRONMENT: mwaa.check_environment},
    ),
    ResourceRule(
        "iam-no-wildcard-actions",
        "IAM policies allow no `*` actions and no role trusts every principal.",
        {IAM_POLICY: iam.check_policy, IAM_ROLE_POLICY: iam.check_policy, IAM_ROLE: iam.check_role},
    ),
    ResourceRule(
        "default-security-group-closed",
        "The VPC's default security group has no rules.",
        {EC2_DEFAULT_SECURITY_GROUP: network.check_default_security_group},
    ),
)


def _companions(rule: CompanionRule) -> StackCheck:
    return lambda resources: missing_companions(resources, rule)


STACK_RULES = (
    StackRule(
        "s3-bucket-secured",
        "Every S3 bucket has a public access block, KMS encryption, versioning, a TLS-only policy "
        "and ownership controls.",
        _companions(BUCKET_COMPANIONS),
    ),
    StackRule(
        "efs-file-system-secured",
        "Every EFS file system has a TLS-only file system policy and a backup policy.",
        _companions(FILE_SYSTEM_COMPANIONS),
    ),
    StackRule(
        "ecr-lifecycle-policy",
        "Every ECR repository has a lifecycle policy.",
        _companions(REPOSITORY_COMPANIONS),
    ),
    StackRule("vpc-flow-logs", "Every VPC has flow logs.", _companions(VPC_COMPANIONS)),
    StackRule(
        "services-monitored",
        "Every model server has monitoring with at least an error-rate alert.",
        monitoring.check_services_monitored,
    ),
    StackRule(
        "no-world-ingress",
        "No security group admits 0.0.0.0/0 or ::/0, except a load balancer's.",
        network.check_world_ingress,
    ),
)

PROTECTION_DESCRIPTION = "Stateful resources (S3 buckets, EFS, ECR) are protected."


def policy_names() -> list[str]:
    return (
        [rule.name for rule in RESOURCE_RULES]
        + [rule.name for rule in STACK_RULES]
        + [PROTECTION_POLICY]
    )


def validate_resource(
    rule: ResourceRule, args: ResourceValidationArgs, report: ReportViolation
) -> None:
    check = rule.checks.get(args.resource_type)
    if check is None:
        return
    for message in check(args.props):
        report(message, None)


def validate_stack(rule: StackRule, args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [Resource.from_policy_resource(resource) for resource in args.resources]
    for violation in rule.check(resources):
        report(violation.message, violation.urn)


def validate_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    protect = bool(args.opts.protect) if args.opts is not None else False
    for message in check_protected(args.resource_type, protect):
        report(message, None)


def build_policies(environment: str, environ: Mapping[str, str] | None = None) -> list[Policy]:
    """The pack's policies with the enforcement levels of a stack of `environment`."""
    levels = policy_levels(
        environment, policy_names(), **({} if environ is None else {"environ": environ})
    )
    policies: list[Policy] = []
    for rule in RESOURCE_RULES:
        policies.append(
            ResourceValidationPolicy(
                name=rule.name,
                description=rule.description,
                enforcement_level=levels[rule.name],
                validate=lambda args, report, rule=rule: validate_resource(rule, args, report),
            )
        )
    for stack_rule in STACK_RULES:
        policies.append(
            StackValidationPolicy(
                name=stack_rule.name,
                description=stack_rule.description,
                enforcement_level=levels[stack_rule.name],
                validate=lambda args, report, rule=stack_rule: validate_stack(rule, args, report),
            )
        )
    policies.append(
        ResourceValidationPolicy(
            name=PROTECTION_POLICY,
            description=PROTECTION_DESCRIPTION,
            enforcement_level=levels[PROTECTION_POLICY],
            validate=validate_protection,
        )
    )
    return policies


__all__ = ["EnforcementLevel", "build_policies", "policy_names"]
