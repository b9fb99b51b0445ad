"""What the workflows promise, read with PyYAML: least privilege, OIDC, pinned actions,
one update per stack at a time, approvals before staging and prod, the policy pack enforced."""

import re
from importlib.metadata import version

import pytest
import yaml
from delivery_paths import REPO_ROOT
from liminal_policy.enforcement import environment_of_stack

WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
STACKS = sorted(path.name.split(".")[1] for path in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))
SHA_PIN = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@([0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$")
CONFIGURE_AWS = "aws-actions/configure-aws-credentials"
PULUMI_ACTION = "pulumi/actions"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def all_workflows() -> dict[str, dict]:
    return {
        path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))
    }


def steps_using(job: dict, action: str) -> list[dict]:
    return [
        step for step in job.get("steps", []) if str(step.get("uses", "")).startswith(action + "@")
    ]


def pulumi_step(job: dict) -> dict:
    (step,) = steps_using(job, PULUMI_ACTION)
    return step["with"]


def run_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def test_stacks_are_known():
    assert STACKS == ["dev", "prod", "staging"]


def test_every_action_is_pinned_to_a_commit_with_its_version():
    for path in WORKFLOWS_DIR.glob("*.yml"):
        for line in path.read_text().splitlines():
            if re.match(r"^\s*-?\s*uses:", line) and "./" not in line:
                assert SHA_PIN.match(line), (
                    f"{path.name}: not pinned to a full SHA + version: {line.strip()}"
                )


def test_the_same_action_is_pinned_to_the_same_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS_DIR.glob("*.yml"):
        for action, sha in re.findall(r"uses:\s*([\w./-]+)@([0-9a-f]{40})", path.read_text()):
            pins.setdefault(action, set()).add(sha)
    assert pins and all(len(shas) == 1 for shas in pins.values()), pins


def test_least_privilege_permissions():
    for name, workflow in all_workflows().items():
        assert workflow["permissions"] == {}, f"{name}: the default token must have no permission"
        for job_name, job in workflow["jobs"].items():
            permissions = job["permissions"]
            where = f"{name}:{job_name}"
            assert permissions.get("contents") == "read", where
            assert set(permissions) <= {"contents", "id-token", "pull-requests"}, where
            assert (permissions.get("id-token") == "write") == bool(
                steps_using(job, CONFIGURE_AWS)
            ), where
            comments = any(
                str(step.get("with", {}).get("comment-on-pr", "")).lower() == "true"
                for step in steps_using(job, PULUMI_ACTION)
            )
            assert (permissions.get("pull-requests") == "write") == comments, where


def test_aws_through_oidc_only():
    for path in WORKFLOWS_DIR.glob("*.yml"):
        text = path.read_text()
        for forbidden in (
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ):
            assert forbidden not in text, f"{path.name} uses long-lived AWS keys ({forbidden})"
    for workflow in all_workflows().values():
        for job in workflow["jobs"].values():
            for step in steps_using(job, CONFIGURE_AWS):
                assert step["with"]["role-to-assume"].startswith("${{ secrets.")
            for step in steps_using(job, PULUMI_ACTION):
                assert step["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def test_pulumi_cli_matches_the_locked_sdk():
    for workflow in all_workflows().values():
        assert workflow["env"]["PULUMI_VERSION"] == version("pulumi")


def test_checkouts_do_not_keep_the_token():
    for workflow in all_workflows().values():
        for job in workflow["jobs"].values():
            for step in steps_using(job, "actions/checkout"):
                assert step["with"]["persist-credentials"] is False


def test_every_pulumi_run_enforces_the_policy_pack_for_its_stack():
    for workflow in all_workflows().values():
        for job in workflow["jobs"].values():
            for step in steps_using(job, PULUMI_ACTION):
                config = step["with"]
                assert config["policyPacks"] == "policy"
                assert "python -m venv policy/venv" in run_text(job)
                stacks = job.get("strategy", {}).get("matrix", {}).get("stack") or [
                    config["stack-name"]
                ]
                for stack in stacks:
                    path = config["policyPackConfigs"].replace("${{ matrix.stack }}", stack)
                    assert path == f"policy/config.{environment_of_stack(stack)}.json"
                    assert (REPO_ROOT / path).is_file()


# --- pull requests ---------------------------------------------------------------------------


def test_pull_requests_set_up_like_the_readme_and_test():
    workflow = load("pr.yml")
    assert "pull_request" in triggers(workflow)
    test = run_text(workflow["jobs"]["test"])
    assert "make setup" in test and "make test" in test


def test_pull_requests_diff_the_plan_against_the_base_branch_for_each_stack():
    job = load("pr.yml")["jobs"]["plan-diff"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    text = run_text(job)
    assert "github.event.pull_request.base.sha" in str(job)
    assert "plan examples/iris --stack" in text and "--json" in text and "--diff" in text


def test_pull_requests_preview_every_stack_with_a_comment():
    job = load("pr.yml")["jobs"]["preview"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    config = pulumi_step(job)
    assert config["command"] == "preview"
    assert config["comment-on-pr"] is True
    assert config["stack-name"] == "${{ matrix.stack }}"
    assert "environment" not in job  # previews need no approval
    assert "head.repo.full_name == github.repository" in job["if"]


# --- deployments ---------------------------------------------------------------------------


def deploy_jobs() -> dict[str, dict]:
    return {
        name: job
        for name, job in load("deploy.yml")["jobs"].items()
        if steps_using(job, PULUMI_ACTION)
    }


def test_each_stack_is_deployed_by_one_job_in_its_own_environment():
    jobs = deploy_jobs()
    assert sorted(jobs) == STACKS
    for stack, job in jobs.items():
        assert pulumi_step(job)["command"] == "up"
        assert pulumi_step(job)["stack-name"] == stack
        assert job["environment"] == stack


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_one_update_per_stack_at_a_time_never_cancelled(stack):
    concurrency = deploy_jobs()[stack]["concurrency"]
    assert concurrency["group"] == f"pulumi-{stack}"
    assert concurrency["cancel-in-progress"] is False


def test_concurrency_groups_are_distinct():
    groups = [job["concurrency"]["group"] for job in deploy_jobs().values()]
    assert len(groups) == len(set(groups))


def test_pushes_to_main_update_dev_and_promotion_is_manual_or_tagged():
    workflow = load("deploy.yml")
    on = triggers(workflow)
    assert on["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in on and on["push"]["tags"]
    jobs = deploy_jobs()
    assert "refs/heads/main" in jobs["dev"]["if"] and "push" in jobs["dev"]["if"]
    staging = jobs["staging"]["if"]
    assert "workflow_dispatch" in staging and "refs/tags/" in staging
    # A manual promotion deploys main, never whatever branch the run was started from.
    assert "workflow_dispatch' && inputs.promote && github.ref == 'refs/heads/main'" in staging
    assert jobs["prod"]["needs"] == "staging"  # prod only ever follows a staging update
    assert "if" not in jobs["prod"]


def test_deployments_are_tested_first():
    jobs = load("deploy.yml")["jobs"]
    assert "make test" in run_text(jobs["test"])
    for stack in ("dev", "staging"):
        assert jobs[stack]["needs"] == "test"


def test_makefile_setup_installs_the_node_tools():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "npm ci --prefix tools" in makefile
