"""The pure plans: ECR names and lifecycle policy, Kubernetes objects of a service, promotion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liminal_pulumi import defaults
from liminal_pulumi.build.tags import image_tag_for
from liminal_pulumi.dsl.model import Mount, Service
from liminal_pulumi.dsl.revision import project_revision
from liminal_pulumi.plans import promotion, registry_plan, service_plan

DIGEST = "sha256:" + "ab" * 32


def test_repository_names_are_valid_ecr_names() -> None:
    assert registry_plan.repository_name("liminal-dev", "MyOrg/App:1.0") == "liminal-dev/myorg/app"
    assert registry_plan.resource_slug("myorg/my_app") == "myorg-my-app"
    assert registry_plan.image_name("registry:5000/org/app:tag") == "registry:5000/org/app"


def test_lifecycle_policy_expires_untagged_first_and_keeps_newest() -> None:
    rules = json.loads(registry_plan.lifecycle_policy(keep_tagged=12, untagged_expiry_days=3))[
        "rules"
    ]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"]["tagStatus"] == "untagged"
    assert rules[0]["selection"]["countNumber"] == 3
    # ECR rejects a policy whose `any` rule is not the last one.
    assert rules[-1]["selection"]["tagStatus"] == "any"
    assert rules[-1]["selection"]["countNumber"] == 12


def test_context_tag_follows_content(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\n")
    first = image_tag_for(tmp_path)
    assert image_tag_for(tmp_path) == first
    (tmp_path / "app.py").write_text("print('hi')\n")
    assert image_tag_for(tmp_path) != first


def _service(**overrides: object) -> Service:
    data: dict[str, object] = {
        "service": "my_server",
        "image": "myorg/app",
        "mounts": (Mount(volume="models", path="/mnt/models"),),
        "env_vars": {"MOUNT_PATH": "/mnt/models"},
        "cpu": "500m",
        "memory": "1Gi",
        "replicas": 2,
        "max_replicas": 5,
    }
    data.update(overrides)
    return Service(**data)  # type: ignore[arg-type]


def test_deployment_mounts_the_model_store_read_only_and_runs_hardened() -> None:
    ref = f"1.dkr.ecr.us-east-1.amazonaws.com/app@{DIGEST}"
    spec = service_plan.deployment(_service(), ref, {"models": "models-claim"}, "ns", ["serve"])
    pod = spec["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == ref
    assert container["command"] == ["serve"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/mnt/models")
    assert mount["readOnly"] is True
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"] == {"claimName": "models-claim", "readOnly": True}
    assert container["readinessProbe"]["httpGet"]["path"] == defaults.READINESS_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == defaults.HEALTHCHECK_PATH
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert container["resources"]["limits"]["memory"] == "1Gi"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert spec["metadata"] == {
        "name": "my-server",
        "namespace": "ns",
        "labels": service_plan.labels(_service()),
    }
    assert "replicas" not in spec["spec"]  # the autoscaler owns the count


@pytest.mark.parametrize(
    ("exposure", "kind", "scheme"),
    [
        ("cluster_ip", "ClusterIP", None),
        ("internal_load_balancer", "LoadBalancer", "internal"),
        ("public_load_balancer", "LoadBalancer", "internet-facing"),
    ],
)
def test_service_type_follows_exposure(exposure: str, kind: str, scheme: str | None) -> None:
    obj = service_plan.service_object(_service(), "ns", exposure)
    assert obj["spec"]["type"] == kind
    annotations = obj["metadata"].get("annotations", {})
    assert annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme") == scheme
    assert obj["spec"]["selector"] == service_plan.selector(_service())


@pytest.mark.parametrize("exposure", ["internal_load_balancer", "public_load_balancer"])
def test_load_balanced_services_are_the_aws_load_balancer_controllers(exposure: str) -> None:
    obj = service_plan.service_object(_service(), "ns", exposure)
    # The class hands the Service to the AWS Load Balancer Controller (and keeps the legacy
    # in-tree controller off it); the NLB sends to pod IPs, health-checked on /ready.
    assert obj["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    annotations = obj["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert annotations[f"{prefix}nlb-target-type"] == "ip"
    assert annotations[f"{prefix}healthcheck-protocol"] == "http"
    assert annotations[f"{prefix}healthcheck-path"] == "/ready"
    assert annotations[f"{prefix}healthcheck-port"] == "traffic-port"
    # Only the controller's annotations: none of the in-tree controller's.
    assert f"{prefix}internal" not in annotations
    assert f"{prefix}type" not in annotations
    assert obj["spec"]["ports"][0]["port"] == 80


def test_a_cluster_ip_service_has_no_load_balancer_class() -> None:
    obj = service_plan.service_object(_service(), "ns", "cluster_ip")
    assert "loadBalancerClass" not in obj["spec"]
    assert "annotations" not in obj["metadata"]


def test_autoscaler_and_budget() -> None:
    hpa = service_plan.autoscaler(_service(), "ns")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "my-server",
    }
    pdb = service_plan.disruption_budget(_service(), "ns")["spec"]
    assert pdb["maxUnavailable"] == 1


def test_stack_reference_names() -> None:
    assert promotion.stack_reference_name("staging", "acme", "liminal") == "acme/liminal/staging"
    assert promotion.stack_reference_name("o/p/s", "acme", "liminal") == "o/p/s"
    with pytest.raises(promotion.PromotionError, match="promoteFrom"):
        promotion.stack_reference_name("a/b", "acme", "liminal")


def test_promoted_refs_need_every_image_pinned_by_digest() -> None:
    good = {"imageRefs": {"myorg/app": f"repo/app@{DIGEST}"}, "projectRevision": "r1"}
    assert promotion.promoted_image_refs("o/p/staging", good, ["myorg/app"]) == {
        "myorg/app": f"repo/app@{DIGEST}"
    }
    with pytest.raises(promotion.PromotionError, match="'o/p/staging'.*'imageRefs'"):
        promotion.promoted_image_refs("o/p/staging", {}, ["myorg/app"])
    with pytest.raises(promotion.PromotionError, match="no image 'other/app'"):
        promotion.promoted_image_refs("o/p/staging", good, ["other/app"])
    with pytest.raises(promotion.PromotionError, match="not pinned by digest"):
        promotion.promoted_image_refs(
            "o/p/staging", {"imageRefs": {"myorg/app": "repo/app:latest"}}, ["myorg/app"]
        )


def test_revision_must_match(tmp_path: Path) -> None:
    (tmp_path / "liminal.yml").write_text("name: a\n")
    revision = project_revision(tmp_path)
    assert promotion.check_revision("s", {"projectRevision": revision}, revision) == revision
    with pytest.raises(promotion.PromotionError, match="'projectRevision'"):
        promotion.check_revision("s", {}, revision)
    (tmp_path / "liminal.yml").write_text("name: b\n")
    with pytest.raises(promotion.PromotionError, match="revision"):
        promotion.check_revision("s", {"projectRevision": revision}, project_revision(tmp_path))


def test_a_promoted_copy_keeps_the_source_tag_or_names_its_digest() -> None:
    digest = "sha256:" + "ab" * 32
    repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/liminal-staging/myorg/app"
    assert registry_plan.promoted_tag(f"{repo}:3f2a9c@{digest}") == "3f2a9c"
    assert registry_plan.promoted_tag(f"{repo}@{digest}") == "promoted-" + "ab" * 10
    # a registry port is not a tag
    assert (
        registry_plan.promoted_tag(f"registry.local:5000/app@{digest}") == "promoted-" + "ab" * 10
    )
