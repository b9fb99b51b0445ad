"""S3 buckets (the MWAA bucket): no public access, KMS encryption, versioning, TLS only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import as_list, denies_insecure_transport, mapping, policy_document

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})


def check_public_access_block(props: Mapping[str, Any]) -> list[str]:
    missing = [flag for flag in PUBLIC_ACCESS_FLAGS if props.get(flag) is not True]
    if not missing:
        return []
    return [f"the public access block must set all four flags; not true: {', '.join(missing)}"]


def check_encryption(props: Mapping[str, Any]) -> list[str]:
    rules = as_list(props.get("rules"))
    if not rules:
        return ["the bucket encryption configuration has no rule"]
    problems = []
    for rule in rules:
        default = mapping(mapping(rule).get("applyServerSideEncryptionByDefault"))
        algorithm = default.get("sseAlgorithm")
        if algorithm not in KMS_ALGORITHMS:
            problems.append(
                f"bucket encryption must use KMS (sseAlgorithm aws:kms), not {algorithm!r}"
            )
    return problems


def check_versioning(props: Mapping[str, Any]) -> list[str]:
    status = mapping(props.get("versioningConfiguration")).get("status")
    if status == "Enabled":
        return []
    return [f"bucket versioning must be Enabled, not {status!r}"]


def check_bucket_policy(props: Mapping[str, Any]) -> list[str]:
    if denies_insecure_transport(policy_document(props.get("policy"))):
        return []
    return [
        "the bucket policy must deny requests without TLS (Deny when aws:SecureTransport is false)"
    ]


def check_ownership_controls(props: Mapping[str, Any]) -> list[str]:
    ownership = mapping(props.get("rule")).get("objectOwnership")
    if ownership == "BucketOwnerEnforced":
        return []
    return [f"object ownership must be BucketOwnerEnforced (ACLs off), not {ownership!r}"]
