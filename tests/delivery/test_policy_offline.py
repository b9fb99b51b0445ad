"""The pack's checks on a `liminal plan --json` document (what pull requests run offline)."""

import json
import subprocess
import sys

from delivery_paths import POLICY_DIR
from liminal_policy.offline import evaluate, resources_of_plan
from liminal_policy.resources import ECR_REPOSITORY, S3_BUCKET, S3_VERSIONING
from pulumi_policy import EnforcementLevel


def planned(type_, name, inputs, protect=False, dependencies=()):
    return {
        "urn": f"urn:pulumi:s::liminal::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": None,
        "custom": True,
        "protect": protect,
        "retain_on_delete": protect,
        "dependencies": list(dependencies),
        "inputs": inputs,
    }


def plan_document(stack: str) -> dict:
    bucket = planned(S3_BUCKET, "mwaa", {"bucket": "liminal-mwaa"}, protect=False)
    versioning = planned(
        S3_VERSIONING,
        "mwaa-versioning",
        {"bucket": "[unknown]", "versioningConfiguration": {"status": "Suspended"}},
        dependencies=[bucket["urn"]],
    )
    repository = planned(
        ECR_REPOSITORY,
        "app",
        {
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS"}],
        },
        protect=True,
    )
    return {"stack": stack, "resources": [bucket, versioning, repository], "outputs": {}}


def test_findings_follow_the_stack_environment():
    resources = resources_of_plan(plan_document("dev"))
    dev = evaluate(resources, "dev")
    prod = evaluate(resources, "prod")
    assert {f.level for f in dev} == {EnforcementLevel.ADVISORY}
    assert {f.level for f in prod} == {EnforcementLevel.MANDATORY}
    dev_policies = {f.policy for f in dev}
    assert "s3-versioned" in dev_policies and "s3-bucket-secured" in dev_policies
    # Protection is only asked of prod (and advised in staging); the protected repository passes.
    assert "stateful-resources-protected" not in dev_policies
    protection = [f for f in prod if f.policy == "stateful-resources-protected"]
    assert [f.urn for f in protection] == [plan_document("prod")["resources"][0]["urn"]]
    # The versioning resource links to its bucket through the plan's dependencies.
    missing = {f.message for f in prod if f.policy == "s3-bucket-secured"}
    assert not any("versioning" in message for message in missing)
    assert any("public access block" in message for message in missing)


def test_check_plan_script_exits_1_on_mandatory_findings_only(tmp_path):
    for stack, expected in (("dev", 0), ("prod", 1)):
        path = tmp_path / f"{stack}.json"
        path.write_text(json.dumps(plan_document(stack)))
        result = subprocess.run(
            [sys.executable, str(POLICY_DIR / "check_plan.py"), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == expected, result.stdout + result.stderr
        assert f"on stack '{stack}'" in result.stdout
