"""How long the Pulumi program takes to evaluate under mocks for a large project.

A generated project of 100 pipelines (two tasks each) and 10 services runs through the same path
as `liminal plan --stack dev`: settings, liminal.yml loading, every component, every resource.
Target: under 5 s on the team machine. Run: `.venv/bin/python benchmarks/infra_eval.py`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import yaml

from liminal_pulumi.offline_plan import run_plan

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = 100
SERVICES = 10


def write_project(folder: Path) -> None:
    shutil.copy(REPO_ROOT / "examples/iris/liminal.yml", folder / "template.yml")
    template = yaml.safe_load((folder / "template.yml").read_text())
    (folder / "template.yml").unlink()
    for name in ("serving.py", "training.py", "requirements.txt"):
        source = REPO_ROOT / "examples/iris" / name
        if source.is_file():
            shutil.copy(source, folder / name)
    pipeline = template["pipelines"][0]
    service = template["services"][0]
    template["pipelines"] = [
        {**pipeline, "pipeline": f"pipeline_{index:03d}"} for index in range(PIPELINES)
    ]
    template["services"] = [
        {**service, "service": f"server_{index:02d}"} for index in range(SERVICES)
    ]
    (folder / "liminal.yml").write_text(yaml.safe_dump(template, sort_keys=False))


def import_providers() -> float:
    """Import the provider SDKs first: a one-off cost per process, whatever the project's size."""
    started = time.perf_counter()
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    import liminal_pulumi.components.platform  # noqa: F401

    for module in (aws.ec2, aws.ecr, aws.eks, aws.efs, aws.iam, aws.kms, aws.mwaa, aws.s3):
        getattr(module, "__name__", None)
    for module in (aws.cloudwatch, aws.vpc, k8s.core.v1, k8s.apps.v1, k8s.policy.v1):
        getattr(module, "__name__", None)
    for module in (k8s.autoscaling.v2, k8s.storage.v1, k8s.meta.v1):
        getattr(module, "__name__", None)
    return time.perf_counter() - started


def main() -> None:
    imports = import_providers()
    print(f"provider SDK imports (once per process): {imports:.2f} s")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        write_project(folder)
        started, cpu_started = time.perf_counter(), time.process_time()
        plan = run_plan(folder, "dev", REPO_ROOT)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"pipelines={PIPELINES} services={SERVICES} resources={len(plan.resources)}")
    # CPU time too: on a shared 2-core machine the wall clock includes others' work.
    print(f"program evaluated under mocks in {elapsed:.2f} s wall, {cpu:.2f} s CPU (target < 5 s)")


if __name__ == "__main__":
    main()
