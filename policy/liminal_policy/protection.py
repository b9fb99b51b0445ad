"""Stateful resources (DAGs and their bucket, models on EFS, images in ECR) survive
`pulumi destroy` and replacements in prod only if they are protected."""

from __future__ import annotations

from .resources import ECR_REPOSITORY, EFS_FILE_SYSTEM, S3_BUCKET

STATEFUL_TYPES = frozenset({S3_BUCKET, EFS_FILE_SYSTEM, ECR_REPOSITORY})


def check_protected(resource_type: str, protect: bool) -> list[str]:
    if resource_type not in STATEFUL_TYPES or protect:
        return []
    return [
        "stateful resource must be protected (protect=True, with retain_on_delete) in this stack"
    ]
