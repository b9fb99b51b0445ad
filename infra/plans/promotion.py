"""Promotion between stacks: what a stack exports for the next one, and how the next one checks it.

A stack with `liminal:promoteFrom` deploys the image digests and the liminal.yml revision its
source stack exports (`imageRefs`, `projectRevision`) instead of building images itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.plans.registry_plan import is_digest_ref

IMAGE_REFS_OUTPUT = defaults.PROMOTION_IMAGE_REFS_OUTPUT
REVISION_OUTPUT = defaults.PROMOTION_REVISION_OUTPUT


class PromotionError(ValueError):
    """The source stack cannot be promoted from; the message names the stack and the output."""


# The organization of self-managed (file, S3) backends, where the engine may report none.
DEFAULT_ORGANIZATION = "organization"


def stack_reference_name(promote_from: str, organization: str | None, project: str) -> str:
    """`staging` -> `<org>/<project>/staging`; a fully qualified `org/project/stack` is kept."""
    parts = promote_from.split("/")
    if len(parts) == 1:
        return f"{organization or DEFAULT_ORGANIZATION}/{project}/{promote_from}"
    if len(parts) == 3 and all(parts):
        return promote_from
    raise PromotionError(
        f"liminal:promoteFrom: {promote_from!r} is neither a stack name nor org/project/stack"
    )


def promoted_image_refs(
    source: str, outputs: Mapping[str, Any], image_tags: Iterable[str]
) -> dict[str, str]:
    """The digest-pinned reference of every image this project needs, from the source's outputs."""
    refs = outputs.get(IMAGE_REFS_OUTPUT)
    if refs is None:
        raise PromotionError(
            f"promotion from stack {source!r}: it has no output {IMAGE_REFS_OUTPUT!r}; "
            f"run `pulumi up` on {source} first (every liminal stack exports it)"
        )
    if not isinstance(refs, Mapping):
        raise PromotionError(
            f"promotion from stack {source!r}: output {IMAGE_REFS_OUTPUT!r} is not a mapping "
            "of image tag to reference"
        )
    result = {}
    for tag in image_tags:
        ref = refs.get(tag)
        if ref is None:
            raise PromotionError(
                f"promotion from stack {source!r}: output {IMAGE_REFS_OUTPUT!r} has no image "
                f"{tag!r}; the source runs another liminal.yml revision"
            )
        if not is_digest_ref(str(ref)):
            raise PromotionError(
                f"promotion from stack {source!r}: output {IMAGE_REFS_OUTPUT}[{tag!r}] = "
                f"{ref!r} is not pinned by digest (repo@sha256:...)"
            )
        result[tag] = str(ref)
    return result


def check_revision(source: str, outputs: Mapping[str, Any], local_revision: str) -> str:
    """The source's liminal.yml revision, which must be the one this stack is deploying."""
    revision = outputs.get(REVISION_OUTPUT)
    if revision is None:
        raise PromotionError(
            f"promotion from stack {source!r}: it has no output {REVISION_OUTPUT!r}; "
            f"run `pulumi up` on {source} first (every liminal stack exports it)"
        )
    if revision != local_revision:
        raise PromotionError(
            f"promotion from stack {source!r}: it runs liminal.yml revision {revision}, this "
            f"checkout has {local_revision}; promote from the commit the source stack deployed"
        )
    return str(revision)
