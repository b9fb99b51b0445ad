"""Registry and Services under the session's mocks: what they declare and how it is wired."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi

from liminal_pulumi import defaults
from liminal_pulumi.components.registry import Registry, RegistryArgs
from liminal_pulumi.components.services import Services, ServicesArgs
from liminal_pulumi.dsl.model import Mount, Service
from liminal_pulumi.testing import MockCloud, resolve, run

DIGEST = "sha256:" + "cd" * 32


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM python:3.11-slim\n")
    return context


def test_registry_builds_into_an_immutable_encrypted_scanned_repository(
    pulumi_mocks: MockCloud, tmp_path: Path
) -> None:
    context = _context(tmp_path)
    registry = run(
        lambda: Registry(
            "regb",
            RegistryArgs(
                images=("myorg/app",),
                build_contexts={"myorg/app": context},
                repository_prefix="liminal-t",
            ),
        )
    )
    (repo,) = pulumi_mocks.of_type("aws:ecr/repository:Repository", "regb-")
    assert repo.inputs["name"] == "liminal-t/myorg/app"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (encryption,) = repo.inputs["encryptionConfigurations"]
    assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"].startswith("arn:")
    (lifecycle,) = pulumi_mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy", "regb-")
    assert lifecycle.inputs["repository"] == "liminal-t/myorg/app"
    assert json.loads(lifecycle.inputs["policy"])["rules"]
    (image,) = pulumi_mocks.of_type("docker-build:index:Image", "regb-")
    assert image.inputs["push"] is True
    assert image.inputs["context"] == {"location": str(context)}
    (tag,) = image.inputs["tags"]
    assert tag.startswith(repo.state["repositoryUrl"] + ":")
    (auth,) = image.inputs["registries"]
    assert auth["address"] == repo.state["repositoryUrl"]
    assert resolve(registry.image_refs["myorg/app"])
    assert not repo.protect


def test_registry_copies_promoted_images_into_its_own_protected_repository(
    pulumi_mocks: MockCloud,
) -> None:
    ref = f"123.dkr.ecr.us-east-1.amazonaws.com/liminal-staging/myorg/app@{DIGEST}"
    registry = run(
        lambda: Registry(
            "regp",
            RegistryArgs(images=("myorg/app",), promoted_refs={"myorg/app": ref}, protect=True),
        )
    )
    assert pulumi_mocks.of_type("docker-build:index:Image", "regp-") == []
    (repo,) = pulumi_mocks.of_type("aws:ecr/repository:Repository", "regp-")
    assert repo.protect and repo.retain_on_delete
    # copied by digest into this stack's own repository, not rebuilt
    (copy,) = pulumi_mocks.of_type("docker-build:index:Index", "regp-")
    assert copy.inputs["sources"] == [ref]
    assert copy.inputs["push"] is True
    own = repo.state["repositoryUrl"]
    assert copy.inputs["tag"] == f"{own}:promoted-{DIGEST.removeprefix('sha256:')[:20]}"
    assert copy.inputs["registry"]["address"] == own
    promoted = resolve(registry.image_refs["myorg/app"])
    assert promoted.startswith(own) and "@sha256:" in promoted


def _service() -> Service:
    return Service(
        service="my_server",
        image="myorg/app",
        mounts=(Mount(volume="store", path="/mnt/store"),),
        env_vars={"MOUNT_PATH": "/mnt/store"},
    )


def test_services_wire_image_claims_and_exposure(pulumi_mocks: MockCloud) -> None:
    ref = f"123.dkr.ecr.us-east-1.amazonaws.com/r/myorg/app@{DIGEST}"
    services = run(
        lambda: Services(
            "svcs",
            ServicesArgs(
                services=(_service(),),
                image_refs={"myorg/app": pulumi.Output.from_input(ref)},
                claims={"store": pulumi.Output.from_input("store-claim")},
                namespace=pulumi.Output.from_input("liminal"),
                exposure="internal_load_balancer",
                commands={"my_server": ("python", "-m", "liminal_pulumi.serving")},
            ),
        )
    )
    (deployment,) = pulumi_mocks.of_type("kubernetes:apps/v1:Deployment", "svcs-")
    pod = deployment.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == ref
    assert container["command"] == ["python", "-m", "liminal_pulumi.serving"]
    assert all(m["readOnly"] for m in container["volumeMounts"] if m["mountPath"] != "/tmp")
    claims = [v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"claimName": "store-claim", "readOnly": True}]
    assert container["readinessProbe"]["httpGet"]["path"] == defaults.READINESS_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == defaults.HEALTHCHECK_PATH
    assert deployment.inputs["metadata"]["namespace"] == "liminal"
    (service,) = pulumi_mocks.of_type("kubernetes:core/v1:Service", "svcs-")
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    annotations = service.inputs["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert service.inputs["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    (pdb,) = pulumi_mocks.of_type("kubernetes:policy/v1:PodDisruptionBudget", "svcs-")
    (hpa,) = pulumi_mocks.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "svcs-")
    assert pdb.inputs["spec"]["selector"] == deployment.inputs["spec"]["selector"]
    assert hpa.inputs["spec"]["scaleTargetRef"]["name"] == deployment.inputs["metadata"]["name"]
    assert resolve(services.endpoints["my_server"]).startswith("http://")
