"""Settings AWS keeps in separate resources: every bucket, file system, repository and VPC of a
stack must come with the companion resources that secure it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .resources import (
    EC2_FLOW_LOG,
    EC2_VPC,
    ECR_LIFECYCLE_POLICY,
    ECR_REPOSITORY,
    EFS_BACKUP_POLICY,
    EFS_FILE_SYSTEM,
    EFS_FILE_SYSTEM_POLICY,
    S3_BUCKET,
    S3_BUCKET_POLICY,
    S3_ENCRYPTION,
    S3_OWNERSHIP_CONTROLS,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_VERSIONING,
    Resource,
    Violation,
)


@dataclass(frozen=True)
class Companion:
    type: str
    link: str  # the companion's input that names its owner
    what: str


@dataclass(frozen=True)
class CompanionRule:
    owner_type: str
    owner_keys: tuple[str, ...]  # the owner's inputs a literal link may match
    companions: tuple[Companion, ...]


BUCKET_COMPANIONS = CompanionRule(
    S3_BUCKET,
    ("bucket", "id"),
    (
        Companion(S3_PUBLIC_ACCESS_BLOCK, "bucket", "a public access block"),
        Companion(S3_ENCRYPTION, "bucket", "a KMS encryption configuration"),
        Companion(S3_VERSIONING, "bucket", "versioning"),
        Companion(S3_BUCKET_POLICY, "bucket", "a TLS-only bucket policy"),
        Companion(S3_OWNERSHIP_CONTROLS, "bucket", "ownership controls (BucketOwnerEnforced)"),
    ),
)
FILE_SYSTEM_COMPANIONS = CompanionRule(
    EFS_FILE_SYSTEM,
    ("id", "creationToken"),
    (
        Companion(EFS_FILE_SYSTEM_POLICY, "fileSystemId", "a TLS-only file system policy"),
        Companion(EFS_BACKUP_POLICY, "fileSystemId", "a backup policy"),
    ),
)
REPOSITORY_COMPANIONS = CompanionRule(
    ECR_REPOSITORY,
    ("name", "id"),
    (Companion(ECR_LIFECYCLE_POLICY, "repository", "a lifecycle policy"),),
)
VPC_COMPANIONS = CompanionRule(
    EC2_VPC,
    ("id",),
    (Companion(EC2_FLOW_LOG, "vpcId", "flow logs"),),
)


def missing_companions(resources: Sequence[Resource], rule: CompanionRule) -> list[Violation]:
    violations = []
    for owner in (r for r in resources if r.type == rule.owner_type):
        for companion in rule.companions:
            linked = any(
                candidate.type == companion.type
                and candidate.refers_to(owner, companion.link, rule.owner_keys)
                for candidate in resources
            )
            if not linked:
                violations.append(Violation(f"{owner.name} has no {companion.what}", owner.urn))
    return violations
