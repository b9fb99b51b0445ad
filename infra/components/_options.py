"""Resource options shared by the components."""

from __future__ import annotations

import pulumi


def child(parent: pulumi.Resource, **options: object) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **options)  # type: ignore[arg-type]


def stateful(parent: pulumi.Resource, protect: bool, **options: object) -> pulumi.ResourceOptions:
    """Options for a resource that holds data: protected and kept on delete when asked."""
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect,
        retain_on_delete=protect,
        **options,  # type: ignore[arg-type]
    )


def merged_tags(tags: dict[str, str], **extra: str) -> dict[str, str]:
    return {**tags, **extra}
