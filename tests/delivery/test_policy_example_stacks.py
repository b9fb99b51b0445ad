"""The example's own stacks meet the baseline where it is mandatory: the real Pulumi program,
planned offline by `liminal plan` (in a subprocess: its mocks are process-global), then checked
by the pack exactly as `policy/check_plan.py` does in pull requests."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from delivery_paths import REPO_ROOT
from liminal_policy.enforcement import PROTECTION_POLICY
from liminal_policy.offline import evaluate, resources_of_plan
from liminal_policy.resources import (
    EC2_VPC,
    ECR_REPOSITORY,
    EKS_CLUSTER,
    MWAA_ENVIRONMENT,
    S3_BUCKET,
)
from pulumi_policy import EnforcementLevel

LIMINAL = Path(sys.executable).parent / "liminal"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_plan_has_no_policy_findings(stack):
    result = subprocess.run(
        [str(LIMINAL), "plan", "examples/iris", "--stack", stack, "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    resources = resources_of_plan(plan)
    # The checks had something to look at: the stack's main resources are in the plan.
    types = {resource.type for resource in resources}
    assert {S3_BUCKET, ECR_REPOSITORY, EC2_VPC, MWAA_ENVIRONMENT} <= types
    assert EKS_CLUSTER in types or "eks:index:Cluster" in types
    findings = evaluate(resources, stack)
    mandatory = [f for f in findings if f.level == EnforcementLevel.MANDATORY]
    assert mandatory == [], "\n".join(f"{f.policy}: {f.message} ({f.urn})" for f in mandatory)
    # Staging need not protect its data (only advised); prod must, and does.
    advised = {f.policy for f in findings if f.level == EnforcementLevel.ADVISORY}
    assert advised <= ({PROTECTION_POLICY} if stack == "staging" else set())
