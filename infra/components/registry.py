"""Registry: an ECR repository per liminal.yml image, and the image built and pushed into it.

Tags are a content hash of the build context, so immutable tags never collide and an unchanged
context is not rebuilt. A promoted stack builds nothing: it copies the source stack's images, by
digest, into its own repositories (`docker buildx imagetools create`, the same manifests and
layers), so that it never depends on the source's repositories or their lifecycle policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from liminal_pulumi import defaults
from liminal_pulumi.build.tags import image_tag_for
from liminal_pulumi.plans import checks, registry_plan

# ECR repository names: lower-case letters, digits, `._-/` (ECR API reference, CreateRepository).
REPOSITORY_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


@dataclass(frozen=True)
class RegistryArgs:
    """Arguments of `Registry`.

    Attributes:
        images: the liminal.yml image tags, in a stable order (`sorted(Project.images())`).
            Required.
        build_contexts: image tag -> its build context folder
            (`liminal_pulumi.build.images.write_build_context`); needed for every image unless
            `promoted_refs` is given (default none). Refused: an image without a context.
        promoted_refs: image tag -> the digest-pinned reference of another stack's image, copied
            into this registry instead of building (default `None`: build here). Refused: an
            image without a reference.
        repository_prefix: the ECR repositories' prefix, `<prefix>/<image>` (default
            `liminal`; the platform passes its environment name). Refused: empty.
        protect: protect and retain the repositories and their key (default `False`); an
            unprotected repository is deleted with its images.
        tags: tags on every AWS resource (default none).
    """

    images: tuple[str, ...]
    build_contexts: Mapping[str, Path] = field(default_factory=dict)
    promoted_refs: Mapping[str, pulumi.Input[str]] | None = None
    repository_prefix: str = "liminal"
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def validate(name: str, args: RegistryArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource."""
    problems = checks.Problems(f"Registry {name!r}")
    if not REPOSITORY_PREFIX.fullmatch(args.repository_prefix):
        problems.add("repository_prefix", f"{args.repository_prefix!r} is not a usable ECR prefix")
    for image in args.images:
        if args.promoted_refs is not None:
            if image not in args.promoted_refs:
                problems.add("promoted_refs", f"no reference for image {image!r}")
        elif image not in args.build_contexts:
            problems.add("build_contexts", f"image {image!r} has no build context")
    problems.raise_if_any()


class Registry(pulumi.ComponentResource):
    """An ECR repository per liminal.yml image, and the image in it (type `liminal:aws:Registry`).

    Creates a KMS key; per image an ECR repository (immutable tags, scan on push, KMS) with a
    lifecycle policy (untagged images expire after `defaults.ECR_UNTAGGED_EXPIRY_DAYS` days,
    the newest `defaults.ECR_KEEP_TAGGED_IMAGES` tagged are kept); and either the image built
    from its context and pushed (docker-build, tagged by content hash, `linux/amd64`) or, with
    `promoted_refs`, the other stack's image copied by digest.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        repository_urls: image tag -> its repository's URL.
        image_refs: image tag -> the pushed image's reference (`<repo>:<tag>@<digest>`).
        key: the repositories' KMS key.
    """

    repository_urls: dict[str, pulumi.Output[str]]
    image_refs: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
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
        tag = image_tag_for(context)
        tagged = repository.repository_url.apply(lambda url: f"{url}:{tag}")
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
