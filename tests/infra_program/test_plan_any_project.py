"""`liminal plan` in a Pulumi project that is not this repository's: its own Pulumi.yaml (name,
`main`, `stackConfigDir`, project config), run from another folder with --project-dir; the
program's own errors become one message and exit 2 (each plan in its own process: the mocks
are process-global)."""

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

PULUMI_YAML = """\
name: acme-data
runtime:
  name: python
main: deploy/
stackConfigDir: config
config:
  retention:
    type: integer
    default: 30
"""

PROGRAM = '''\
"""A team's own program: plain AWS resources named from its liminal project."""
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
from naming import bucket_name  # a module next to this file: the program's folder is on sys.path

from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.plans import registry_plan

config = pulumi.Config()
if config.get_bool("fail"):
    raise pulumi.RunError("acme-data:fail is set: nothing to deploy")
if config.get_bool("crash"):
    {}["missing"]
team = config.require("team")
project = load_project(Path(pulumi.Config("liminal").require("project")))
tags = json.loads(Path("tags.json").read_text())  # relative to the project folder (the cwd)
bucket = aws.s3.Bucket("models", bucket=bucket_name(team), tags=tags)
aws.s3.BucketLifecycleConfiguration(
    "models-expiry",
    bucket=bucket.id,
    rules=[
        {"id": "expire", "status": "Enabled", "expiration": {"days": config.get_int("retention")}}
    ],
)
repositories = {
    image: aws.ecr.Repository(
        registry_plan.resource_slug(image), name=registry_plan.repository_name(team, image)
    ).repository_url
    for image in sorted(project.images())
}
if config.get_bool("duplicate"):
    aws.s3.Bucket("models")
pulumi.export("bucket", bucket.bucket)
pulumi.export("repositories", repositories)
'''


def liminal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LIMINAL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("acme")
    (folder / "Pulumi.yaml").write_text(PULUMI_YAML)
    (folder / "deploy").mkdir()
    (folder / "deploy/__main__.py").write_text(PROGRAM)
    (folder / "deploy/naming.py").write_text(
        "def bucket_name(team: str) -> str:\n    return f'{team}-models'\n"
    )
    (folder / "tags.json").write_text('{"owner": "data-platform"}')
    (folder / "config").mkdir()
    for stack, extra in (
        ("test", ""),
        ("bad", "  acme-data:fail: true\n"),
        ("crash", "  crash: true\n"),
        ("dup", "  duplicate: true\n"),
    ):
        (folder / f"config/Pulumi.{stack}.yaml").write_text(
            f"config:\n  aws:region: eu-west-1\n  acme-data:team: mlops\n{extra}"
        )
    shutil.copytree(
        REPO_ROOT / "examples/iris", folder / "liminal", ignore=shutil.ignore_patterns(".liminal")
    )
    return folder


@pytest.fixture(scope="module")
def plan(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    done = liminal(
        "plan",
        str(project / "liminal"),
        "--stack",
        "test",
        "--project-dir",
        str(project),
        "--json",
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_projects_program_runs_with_its_stack_config(plan: dict[str, Any]) -> None:
    assert plan["stack"] == "test" and plan["project"] == "liminal"
    assert plan["settings"]["acme-data:team"] == "mlops"
    assert plan["settings"]["acme-data:retention"] == 30  # the project file's default
    assert plan["settings"]["liminal:project"] == "liminal"
    urns = [r["urn"] for r in plan["resources"]]
    assert all(u.startswith("urn:pulumi:test::acme-data::") for u in urns)
    (bucket,) = [r for r in plan["resources"] if r["type"] == "aws:s3/bucket:Bucket"]
    assert bucket["inputs"]["bucket"] == "mlops-models"
    assert bucket["inputs"]["tags"] == {"owner": "data-platform"}
    (lifecycle,) = [r for r in plan["resources"] if "BucketLifecycle" in r["type"]]
    days = lifecycle["inputs"]["rules"][0]["expiration"]["days"]
    assert days == 30 and type(days) is int
    assert plan["outputs"]["bucket"] == "mlops-models"
    assert plan["outputs"]["repositories"] == {
        "myorg/mydatascienceapp": (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/myorg/mydatascienceapp"
        )
    }


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("bad", ["acme-data:fail is set: nothing to deploy"]),
        ("crash", ["the program (deploy) failed: KeyError: 'missing'", "__main__.py:"]),
        ("dup", ["Duplicate resource URN", "aws:s3/bucket:Bucket::models'"]),
    ],
)
def test_what_the_program_raises_is_one_message(
    project: Path, stack: str, expected: list[str]
) -> None:
    done = liminal("plan", "liminal", "--stack", stack, cwd=project)
    assert done.returncode == 2
    assert done.stdout == ""
    for text in expected:
        assert text in done.stderr
    assert "Traceback" not in done.stderr and "never retrieved" not in done.stderr


def test_a_missing_project_file_stack_or_program_is_one_line(project: Path, tmp_path: Path) -> None:
    no_project = liminal("plan", str(project / "liminal"), "--stack", "test", cwd=tmp_path)
    assert no_project.returncode == 2
    assert no_project.stderr.count("\n") == 1 and "Pulumi.yaml: no such file" in no_project.stderr
    shutil.copy(project / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    no_main = liminal("plan", str(project / "liminal"), "--stack", "test", cwd=tmp_path)
    assert no_main.returncode == 2
    assert no_main.stderr.count("\n") == 1 and "main:" in no_main.stderr
    assert "deploy does not exist" in no_main.stderr
    no_stack = liminal("plan", "liminal", "--stack", "prod", cwd=project)
    assert no_stack.returncode == 2 and no_stack.stderr.count("\n") == 1
    assert "config/Pulumi.prod.yaml: no such stack file" in no_stack.stderr
