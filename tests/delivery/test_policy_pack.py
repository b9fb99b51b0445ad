"""The pack as the engine drives it: policies receive engine argument objects and report."""

import json

import yaml
from delivery_paths import POLICY_DIR
from liminal_policy.pack import RESOURCE_RULES, build_policies, policy_names
from liminal_policy.resources import ECR_REPOSITORY, S3_BUCKET, S3_VERSIONING
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)


def _opts(protect=False):
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def _urn(type_, name):
    return f"urn:pulumi:prod::liminal::{type_}::{name}"


def _policies():
    return {p.name: p for p in build_policies("prod", environ={})}


def _run_resource(policy, type_, props, protect=False):
    reports = []
    args = ResourceValidationArgs(type_, props, _urn(type_, "r"), "r", _opts(protect), None, None)
    policy.validate(args, lambda message, urn=None: reports.append((message, urn)))
    return reports


def test_names_are_unique_and_valid_and_every_rule_has_a_policy():
    names = policy_names()
    assert len(names) == len(set(names))
    assert all(name.replace("-", "").isalnum() and name == name.lower() for name in names)
    assert set(names) == set(_policies())


def test_resource_policy_reports_only_for_its_types():
    policy = _policies()["ecr-immutable-scanned-encrypted"]
    assert isinstance(policy, ResourceValidationPolicy)
    assert len(_run_resource(policy, ECR_REPOSITORY, {"imageTagMutability": "MUTABLE"})) == 3
    assert _run_resource(policy, S3_VERSIONING, {"imageTagMutability": "MUTABLE"}) == []


def test_every_resource_rule_flags_empty_inputs_of_each_of_its_types():
    policies = _policies()
    for rule in RESOURCE_RULES:
        for type_ in rule.checks:
            if rule.name in {"default-security-group-closed", "iam-no-wildcard-actions"}:
                continue  # empty rules / no policy are compliant there
            assert _run_resource(policies[rule.name], type_, {}), (rule.name, type_)


def test_protection_policy_reads_resource_options():
    policy = _policies()["stateful-resources-protected"]
    assert _run_resource(policy, S3_BUCKET, {"bucket": "b"}, protect=True) == []
    assert len(_run_resource(policy, S3_BUCKET, {"bucket": "b"}, protect=False)) == 1


def test_stack_policy_converts_engine_resources_and_reports_urns():
    policy = _policies()["s3-bucket-secured"]
    assert isinstance(policy, StackValidationPolicy)
    bucket = PolicyResource(
        S3_BUCKET, {"bucket": "b"}, _urn(S3_BUCKET, "b"), "b", _opts(True), None, None, [], {}
    )
    versioning = PolicyResource(
        S3_VERSIONING,
        {"versioningConfiguration": {"status": "Enabled"}},
        _urn(S3_VERSIONING, "v"),
        "v",
        _opts(),
        None,
        None,
        [bucket],
        {"bucket": [bucket]},
    )
    reports = []
    policy.validate(
        StackValidationArgs([bucket, versioning], None),
        lambda m, urn=None: reports.append((m, urn)),
    )
    assert len(reports) == 4  # all companions but versioning are missing
    assert {urn for _, urn in reports} == {bucket.urn}
    assert not any("versioning" in message for message, _ in reports)


def test_pack_metadata_and_requirements():
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["version"]
    requirements = (POLICY_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements
    main = (POLICY_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "build_policies(" in main
    for env in ("dev", "staging", "prod"):
        json.loads((POLICY_DIR / f"config.{env}.json").read_text())
