"""Registry: an ECR repository per liminal.yml image, and the image built and pushed into it.

Tags are a content hash of the build context, so immutable tags never collide and an unchanged
context is not rebuilt. A promoted stack builds nothing: it copies the source stack's images, by
digest, into its own repositories (`docker buildx imagetools create`, the same manifests and
layers), so that it never depends on the source's repositories or their lifecycle policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from liminal_pulumi import defaults
from liminal_pulumi.build.tags import image_tag_for
from liminal_pulumi.plans import registry_plan


@dataclass(frozen=True)
class RegistryArgs:
    # liminal.yml image tags, in a stable order
    images: tuple[str, ...]
    # image tag -> build context folder (written by liminal_pulumi.build.images.write_build_context)
    build_contexts: Mapping[str, Path] = field(default_factory=dict)
    # image tag -> digest-pinned reference from the stack promoted from; None: build here
    promoted_refs: Mapping[str, pulumi.Input[str]] | None = None
    repository_prefix: str = "liminal"
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class Registry(pulumi.ComponentResource):
    repository_urls: dict[str, pulumi.Output[str]]
    image_refs: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("liminal:aws:Registry", name, None, opts)
        stateful = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.protect
        )
        child = pulumi.ResourceOptions(parent=self)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR repositories of {args.repository_prefix}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=dict(args.tags),
            opts=stateful,
        )
        self.repository_urls = {}
        self.image_refs = {}
        auth = aws.ecr.get_authorization_token_output(opts=pulumi.InvokeOptions(parent=self))
        for image in args.images:
            slug = registry_plan.resource_slug(image)
            repository = aws.ecr.Repository(
                f"{name}-{slug}",
                name=registry_plan.repository_name(args.repository_prefix, image),
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": self.key.arn}],
                # Unprotected stacks (dev) tear down with their images; prod keeps them.
                force_delete=not args.protect,
                tags=dict(args.tags),
                opts=stateful,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{slug}-lifecycle",
                repository=repository.name,
                policy=registry_plan.lifecycle_policy(),
                opts=child,
            )
            self.repository_urls[image] = repository.repository_url
            if args.promoted_refs is not None:
                self.image_refs[image] = self._copy(
                    name, slug, args.promoted_refs[image], repository, auth
                )
            else:
                self.image_refs[image] = self._build(name, slug, image, args, repository, auth)

        self.register_outputs(
            {"repositoryUrls": self.repository_urls, "imageRefs": self.image_refs}
        )

    def _copy(
        self,
        name: str,
        slug: str,
        source_ref: pulumi.Input[str],
        repository: aws.ecr.Repository,
        auth: pulumi.Output[aws.ecr.GetAuthorizationTokenResult],
    ) -> pulumi.Output[str]:
        source = pulumi.Output.from_input(source_ref)
        tagged = pulumi.Output.all(repository.repository_url, source).apply(
            lambda v: f"{v[0]}:{registry_plan.promoted_tag(v[1])}"
        )
        copied = docker_build.Index(
            f"{name}-{slug}-promoted",
            sources=[source],
            tag=tagged,
            push=True,
            # The source repository is in the same registry: one token reads and writes both.
            registry={
                "address": repository.repository_url,
                "username": auth.user_name,
                "password": auth.password,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.all(copied.ref, tagged).apply(lambda refs: refs[0] or refs[1])

    def _build(
        self,
        name: str,
        slug: str,
        image: str,
        args: RegistryArgs,
        repository: aws.ecr.Repository,
        auth: pulumi.Output[aws.ecr.GetAuthorizationTokenResult],
    ) -> pulumi.Output[str]:
        context = args.build_contexts.get(image)
        if context is None:
            raise ValueError(f"image {image!r} has no build context")
        tagged = pulumi.Output.concat(repository.repository_url, ":", image_tag_for(context))
        built = docker_build.Image(
            f"{name}-{slug}-image",
            context={"location": str(context)},
            dockerfile={"location": str(context / "Dockerfile")},
            tags=[tagged],
            platforms=[docker_build.Platform(defaults.IMAGE_PLATFORM)],
            push=True,
            # Previews (pull requests) need no Docker engine; `pulumi up` builds.
            build_on_preview=False,
            registries=[
                {
                    "address": repository.repository_url,
                    "username": auth.user_name,
                    "password": auth.password,
                }
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # `ref` is `<repo>:<tag>@<digest>` once pushed; the tag alone stands in until then.
        return pulumi.Output.all(built.ref, tagged).apply(lambda refs: refs[0] or refs[1])
