"""ECR layout for a project's images: repository names, lifecycle policy, content-hash tags."""

from __future__ import annotations

import json
import re

from liminal_pulumi import defaults

# The name transformations live with the DSL, which checks names for collisions after them.
from liminal_pulumi.dsl.names import image_name, repository_name, resource_slug

__all__ = ["image_name", "repository_name", "resource_slug"]


def lifecycle_policy(
    keep_tagged: int = defaults.ECR_KEEP_TAGGED_IMAGES,
    untagged_expiry_days: int = defaults.ECR_UNTAGGED_EXPIRY_DAYS,
) -> str:
    """Expire untagged layers quickly and keep the newest tagged images (the rollback window)."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"expire untagged images after {untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged_expiry_days,
            },
            "action": {"type": "expire"},
        },
        {
            # ECR requires the `any` rule to have the lowest priority (highest number).
            "rulePriority": 2,
            "description": f"keep the newest {keep_tagged} images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep_tagged,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, indent=2, sort_keys=True)


def promoted_tag(source_ref: str) -> str:
    """The tag a promoted copy gets in this stack's repository: the source's own tag (a content
    hash), or for a digest-only reference `promoted-<first 20 hex of the digest>`."""
    name, _, digest = source_ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "promoted-" + digest.removeprefix("sha256:")[:20]


def is_digest_ref(ref: str) -> bool:
    """`repo@sha256:<64 hex>` (optionally with a tag before the `@`)."""
    return re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", ref) is not None
