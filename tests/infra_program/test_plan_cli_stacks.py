"""`liminal plan` per stack, each in its own process (mocks are process-global): the whole
program's resources, per-stack differences, protection, wiring, parallel EKS/MWAA, and --diff."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMINAL = [sys.executable, "-m", "liminal_pulumi.cli"]
STATEFUL = {
    "aws:s3/bucket:Bucket",
    "aws:efs/fileSystem:FileSystem",
    "aws:ecr/repository:Repository",
}


def liminal(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LIMINAL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, Any]]:
    result = {}
    for stack in ("dev", "prod"):
        done = liminal("plan", "examples/iris", "--stack", stack, "--json")
        assert done.returncode == 0, done.stderr
        result[stack] = json.loads(done.stdout)
    return result


def of_type(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def test_every_component_is_in_the_plan(plans: dict[str, dict[str, Any]]) -> None:
    for plan in plans.values():
        for component in ("Network", "Cluster", "ModelStore", "Registry", "Airflow", "Services"):
            assert plan["counts"][f"liminal:aws:{component}"] == 1
        assert plan["counts"]["liminal:index:LiminalPlatform"] == 1
        assert set(plan["outputs"]) >= {
            "airflowWebserverUrl",
            "bucketName",
            "clusterName",
            "kubeconfig",
            "repositoryUrls",
            "serviceEndpoints",
            "modelStoreId",
            "imageRefs",
            "projectRevision",
        }
        assert plan["outputs"]["kubeconfig"] == "[secret]"


def test_dev_and_prod_differ(plans: dict[str, dict[str, Any]]) -> None:
    dev, prod = plans["dev"], plans["prod"]
    assert len(of_type(dev, "aws:ec2/natGateway:NatGateway")) == 1
    assert len(of_type(prod, "aws:ec2/natGateway:NatGateway")) >= 2
    (dev_cluster,) = of_type(dev, "eks:index:Cluster")
    (prod_cluster,) = of_type(prod, "eks:index:Cluster")
    assert dev_cluster["inputs"]["endpointPublicAccess"] is True
    assert (
        dev_cluster["inputs"]["publicAccessCidrs"] == dev["settings"]["liminal:publicAccessCidrs"]
    )
    assert prod_cluster["inputs"]["endpointPublicAccess"] is False
    (dev_env,) = of_type(dev, "aws:mwaa/environment:Environment")
    (prod_env,) = of_type(prod, "aws:mwaa/environment:Environment")
    assert prod_env["inputs"]["maxWorkers"] > dev_env["inputs"]["maxWorkers"]


def test_stateful_resources_are_protected_only_in_prod(plans: dict[str, dict[str, Any]]) -> None:
    for type_ in STATEFUL:
        assert all(r["protect"] and r["retain_on_delete"] for r in of_type(plans["prod"], type_))
        assert not any(r["protect"] for r in of_type(plans["dev"], type_))
        assert of_type(plans["prod"], type_)
    # dev tears down with its objects and images; prod refuses to delete them
    for type_, flag in (
        ("aws:s3/bucket:Bucket", "forceDestroy"),
        ("aws:ecr/repository:Repository", "forceDelete"),
    ):
        assert all(r["inputs"][flag] is True for r in of_type(plans["dev"], type_))
        assert all(r["inputs"][flag] is False for r in of_type(plans["prod"], type_))


def test_prod_copies_staging_images_instead_of_building(plans: dict[str, dict[str, Any]]) -> None:
    assert of_type(plans["dev"], "docker-build:index:Image")
    assert not of_type(plans["prod"], "docker-build:index:Image")
    (reference,) = of_type(plans["prod"], "pulumi:pulumi:StackReference")
    assert reference["inputs"]["name"].endswith("/liminal/staging")
    (deployment,) = of_type(plans["prod"], "kubernetes:apps/v1:Deployment")
    image = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == plans["prod"]["outputs"]["imageRefs"]["myorg/mydatascienceapp"]
    # staging's image, by digest, copied into prod's own repository
    assert "@sha256:" in image and "liminal-prod/" in image
    (copy,) = of_type(plans["prod"], "docker-build:index:Index")
    (source,) = copy["inputs"]["sources"]
    assert "liminal-staging/" in source and "@sha256:" in source


def test_services_run_the_ecr_image_with_the_claim_read_only(
    plans: dict[str, dict[str, Any]],
) -> None:
    dev = plans["dev"]
    (repository,) = of_type(dev, "aws:ecr/repository:Repository")
    (deployment,) = of_type(dev, "kubernetes:apps/v1:Deployment")
    (claim,) = of_type(dev, "kubernetes:core/v1:PersistentVolumeClaim")
    pod = deployment["inputs"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith(
        f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repository['inputs']['name']}:"
    )
    assert "liminal_pulumi.serving" in container["command"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/mnt/gettingstartedvol")
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == claim["inputs"]["metadata"]["name"]
    assert volume["persistentVolumeClaim"]["readOnly"] is True


def test_mwaa_does_not_wait_for_the_cluster(plans: dict[str, dict[str, Any]]) -> None:
    for plan in plans.values():
        by_urn = {r["urn"]: r for r in plan["resources"]}
        (environment,) = of_type(plan, "aws:mwaa/environment:Environment")
        seen, pending = set(), [environment["urn"]]
        while pending:
            for dependency in by_urn.get(pending.pop(), {}).get("dependencies", []):
                if dependency not in seen:
                    seen.add(dependency)
                    pending.append(dependency)
        waited = {by_urn[u]["type"] for u in seen if u in by_urn}
        assert "eks:index:Cluster" not in waited
        assert "aws:eks/nodeGroup:NodeGroup" not in waited
        assert "aws:ec2/subnet:Subnet" in waited


def test_services_wait_for_nodes_add_ons_and_claims(plans: dict[str, dict[str, Any]]) -> None:
    """A first rollout must not start (and time out) before pods can be scheduled and mount EFS."""
    for plan in plans.values():
        (services,) = of_type(plan, "liminal:aws:Services")
        by_urn = {r["urn"]: r for r in plan["resources"]}
        waited = [by_urn[u] for u in services["dependencies"] if u in by_urn]
        types = {r["type"] for r in waited}
        assert "aws:eks/nodeGroup:NodeGroup" in types
        assert "kubernetes:core/v1:PersistentVolumeClaim" in types
        addons = {r["name"] for r in waited if r["type"] == "aws:eks/addon:Addon"}
        assert addons == {"liminal-cluster-efs-csi", "liminal-cluster-metrics-server"}


def test_load_balanced_services_wait_for_the_load_balancer_controller(
    plans: dict[str, dict[str, Any]],
) -> None:
    # prod exposes its services on an internal NLB: the controller is installed, the Service
    # asks for it; dev (cluster_ip) runs no controller.
    assert of_type(plans["dev"], "liminal:aws:LoadBalancerController") == []
    prod = plans["prod"]
    (services,) = of_type(prod, "liminal:aws:Services")
    (release,) = of_type(prod, "kubernetes:helm.sh/v3:Release")
    assert release["urn"] in services["dependencies"]  # a component's depends_on: its children
    assert release["inputs"]["chart"] == "aws-load-balancer-controller"
    assert release["inputs"]["values"]["clusterName"] == "liminal-prod"
    (service,) = of_type(prod, "kubernetes:core/v1:Service")
    assert service["inputs"]["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"


def test_text_output_shows_tree_counts_and_settings() -> None:
    done = liminal("plan", "examples/iris", "--stack", "dev")
    assert done.returncode == 0, done.stderr
    for text in (
        "liminal:natStrategy",
        "resources by type",
        "LiminalPlatform",
        "liminal-services-my",
    ):
        assert text in done.stdout


def test_diff_shows_what_a_change_adds(tmp_path: Path, plans: dict[str, dict[str, Any]]) -> None:
    project = tmp_path / "iris"
    shutil.copytree(REPO_ROOT / "examples/iris", project, ignore=shutil.ignore_patterns(".liminal"))
    text = (project / "liminal.yml").read_text()
    extra = text.split("services:\n", 1)[1].replace("my_datascience_server", "second_server")
    (project / "liminal.yml").write_text(text + extra)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(plans["dev"]))
    done = liminal("plan", str(project), "--stack", "dev", "--diff", str(old), "--json")
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    added = " ".join(diff["added"])
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert "kubernetes:" in added and kind in added
    assert "second-server" in added
    assert not diff["removed"]
    assert diff["changed"]  # the uploaded liminal.yml and the project path changed


def test_bad_liminal_yml_fails_before_any_resource(tmp_path: Path) -> None:
    (tmp_path / "liminal.yml").write_text(
        "name: broken\npipelines:\n  - pipeline: p\n    tasks: 3\n"
    )
    done = liminal("plan", str(tmp_path), "--stack", "dev", "--json")
    assert done.returncode == 2
    assert "liminal.yml:" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def copy_program(folder: Path) -> Path:
    """This repository's Pulumi project (Pulumi.yaml, the program, the stacks) in `folder`."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", folder / "Pulumi.yaml")
    shutil.copytree(
        REPO_ROOT / "infra", folder / "infra", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(REPO_ROOT / "stacks", folder / "stacks")
    return folder


def test_bad_settings_name_the_key(tmp_path: Path) -> None:
    copy_program(tmp_path)
    (tmp_path / "stacks/Pulumi.bad.yaml").write_text("config:\n  liminal:natStrategy: many\n")
    done = liminal("plan", str(REPO_ROOT / "examples/iris"), "--stack", "bad", cwd=tmp_path)
    assert done.returncode == 2
    assert "liminal:natStrategy" in done.stderr and "Traceback" not in done.stderr
    missing = liminal("plan", str(REPO_ROOT / "examples/iris"), "--stack", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "Pulumi.nope.yaml" in missing.stderr
    assert "stacks: bad, dev, prod, staging" in missing.stderr


def test_json_keeps_whole_numbers_as_integers(plans: dict[str, dict[str, Any]]) -> None:
    def floats(value: Any) -> list[float]:
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return [value] if isinstance(value, float) and value.is_integer() else []

    dev = plans["dev"]
    assert floats(dev) == []
    (environment,) = of_type(dev, "aws:mwaa/environment:Environment")
    assert type(environment["inputs"]["maxWorkers"]) is int
    assert dev["settings"]["liminal:mwaaMaxWorkers"] == environment["inputs"]["maxWorkers"] == 2


def test_diff_shows_old_and_new_values(tmp_path: Path, plans: dict[str, dict[str, Any]]) -> None:
    """Planned in a copy of this project: the program runs from --project-dir's Pulumi.yaml."""
    copy_program(tmp_path)
    stack = tmp_path / "stacks/Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("mwaaMaxWorkers: 2", "mwaaMaxWorkers: 3"))
    old = tmp_path / "old.json"
    old.write_text(json.dumps(plans["dev"]))
    iris = str(REPO_ROOT / "examples/iris")
    done = liminal(
        "plan", iris, "--stack", "dev", "--project-dir", str(tmp_path), "--diff", str(old), "--json"
    )
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    assert not diff["added"] and not diff["removed"]
    (environment,) = [urn for urn in diff["changed"] if "mwaa/environment" in urn]
    assert diff["changed"][environment]["maxWorkers"] == {"old": 2, "new": 3}
