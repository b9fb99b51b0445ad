"""Promotion through a mocked StackReference: the source's digests are used, never rebuilt."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from stack_settings import settings_from_config

from liminal_pulumi.components.platform import promoted_release
from liminal_pulumi.components.registry import Registry, RegistryArgs
from liminal_pulumi.dsl.revision import project_revision
from liminal_pulumi.plans.promotion import PromotionError
from liminal_pulumi.testing import MockCloud, resolve, run

DIGEST = "sha256:" + "ef" * 32
IMAGE = "myorg/app"
SOURCE_STACK = "organization/liminal/staging"  # the mocks' organization and project
REF = f"123.dkr.ecr.us-east-1.amazonaws.com/liminal-staging/myorg/app@{DIGEST}"


@pytest.fixture
def source_outputs(pulumi_mocks: MockCloud) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Make the mocked StackReference to `staging` report the given outputs (this test only)."""
    outputs: dict[str, Any] = {}
    pulumi_mocks.stack_outputs[SOURCE_STACK] = outputs
    yield outputs.update
    del pulumi_mocks.stack_outputs[SOURCE_STACK]


def _project(tmp_path: Path) -> str:
    (tmp_path / "liminal.yml").write_text("name: promoted\n")
    return project_revision(tmp_path)


def _release(revision: str, name: str) -> tuple[dict[str, Any], Any]:
    """Only the promotion's outputs, with no resource consuming them (a failure stays here)."""
    settings = settings_from_config({"liminal:promoteFrom": "staging"})

    def program() -> tuple[dict[str, Any], Any]:
        parent = pulumi.ComponentResource("test:index:Promotion", name)
        refs, revision_output = promoted_release(
            parent, settings.promote_from, (IMAGE,), revision, name
        )
        assert refs is not None
        return refs, revision_output

    return run(program)


def _promote(revision: str, name: str) -> tuple[Registry, Any]:
    settings = settings_from_config({"liminal:promoteFrom": "staging"})

    def program() -> tuple[Registry, Any]:
        parent = pulumi.ComponentResource("test:index:Promotion", name)
        refs, revision_output = promoted_release(
            parent, settings.promote_from, (IMAGE,), revision, name
        )
        assert refs is not None
        promoted = Registry(f"{name}-r", RegistryArgs(images=(IMAGE,), promoted_refs=refs))
        return promoted, revision_output

    return run(program)


def test_promotion_uses_the_source_digests_and_builds_nothing(
    pulumi_mocks: MockCloud, source_outputs: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    revision = _project(tmp_path)
    source_outputs({"imageRefs": {IMAGE: REF}, "projectRevision": revision})
    registry, revision_output = _promote(revision, "promo-ok")
    assert resolve(revision_output) == revision
    assert pulumi_mocks.of_type("docker-build:index:Image", "promo-ok") == []
    (copy,) = pulumi_mocks.of_type("docker-build:index:Index", "promo-ok")
    assert copy.inputs["sources"] == [REF]  # exactly the source's digest, copied, not rebuilt
    assert "@sha256:" in resolve(registry.image_refs[IMAGE])
    (reference,) = [
        r
        for r in pulumi_mocks.of_type("pulumi:pulumi:StackReference")
        if r.inputs["name"].endswith("/liminal/staging")
    ][:1]
    assert reference.inputs["name"] == "organization/liminal/staging"


@pytest.mark.parametrize(
    ("outputs", "missing"),
    [
        ({"projectRevision": "REV"}, "imageRefs"),
        ({"imageRefs": {IMAGE: REF}}, "projectRevision"),
    ],
)
def test_a_missing_source_output_is_a_clear_error(
    source_outputs: Callable[[dict[str, Any]], None],
    tmp_path: Path,
    outputs: dict[str, Any],
    missing: str,
) -> None:
    revision = _project(tmp_path)
    source_outputs({k: (revision if v == "REV" else v) for k, v in outputs.items()})
    with pytest.raises(PromotionError) as caught:  # raised by the run, or when read
        refs, _ = _release(revision, f"promo-{missing}")
        resolve(refs[IMAGE])
    message = str(caught.value)
    assert "'organization/liminal/staging'" in message and f"'{missing}'" in message


def test_promoting_another_liminal_revision_fails(
    source_outputs: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    revision = _project(tmp_path)
    source_outputs({"imageRefs": {IMAGE: REF}, "projectRevision": "0" * 64})
    with pytest.raises(PromotionError, match="revision"):
        _, revision_output = _release(revision, "promo-rev")
        resolve(revision_output)
