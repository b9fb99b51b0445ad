import json

from liminal_policy import iam


def _document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SCOPED = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": "arn:aws:s3:::b",
}


def test_scoped_actions_and_prefix_wildcards_are_allowed():
    describe = {"Effect": "Allow", "Action": "eks:Describe*", "Resource": "*"}
    assert iam.check_policy({"policy": _document(SCOPED, describe)}) == []


def test_star_and_service_wide_actions_are_violations():
    (problem,) = iam.check_policy(
        {"policy": _document(SCOPED, {"Effect": "Allow", "Action": ["*", "s3:*"], "Resource": "*"})}
    )
    assert "'*'" in problem and "'s3:*'" in problem


def test_not_action_allow_is_a_wildcard_but_deny_with_star_is_fine():
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert "NotAction" in iam.check_policy({"policy": _document(not_action)})[0]
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert iam.check_policy({"policy": _document(SCOPED, deny)}) == []


def test_role_inline_policies_and_trust():
    trust = _document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "airflow.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    good = {
        "assumeRolePolicy": trust,
        "inlinePolicies": [{"name": "ok", "policy": _document(SCOPED)}],
    }
    assert iam.check_role(good) == []
    bad_inline = good | {
        "inlinePolicies": [
            {"name": "admin", "policy": _document({"Effect": "Allow", "Action": "*"})}
        ]
    }
    assert "'admin'" in iam.check_role(bad_inline)[0]
    anyone = _document({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    assert "any principal" in iam.check_role({"assumeRolePolicy": anyone})[0]
