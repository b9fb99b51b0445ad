import json

import pytest
from liminal_policy import s3

TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def test_public_access_block_needs_all_four_flags():
    compliant = dict.fromkeys(s3.PUBLIC_ACCESS_FLAGS, True) | {"bucket": "b"}
    assert s3.check_public_access_block(compliant) == []
    for flag in s3.PUBLIC_ACCESS_FLAGS:
        problems = s3.check_public_access_block(compliant | {flag: False})
        assert len(problems) == 1 and flag in problems[0]
    assert "restrictPublicBuckets" in s3.check_public_access_block({"bucket": "b"})[0]


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_encryption_with_kms_is_compliant(algorithm):
    rule = {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm, "kmsMasterKeyId": "k"}
    }
    assert s3.check_encryption({"bucket": "b", "rules": [rule]}) == []


def test_encryption_with_s3_managed_keys_or_no_rule_is_not():
    aes = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    assert "AES256" in s3.check_encryption({"rules": [aes]})[0]
    assert s3.check_encryption({"rules": []}) == ["the bucket encryption configuration has no rule"]


def test_versioning_must_be_enabled():
    assert s3.check_versioning({"versioningConfiguration": {"status": "Enabled"}}) == []
    assert (
        "Suspended" in s3.check_versioning({"versioningConfiguration": {"status": "Suspended"}})[0]
    )
    assert s3.check_versioning({}) != []


def test_bucket_policy_must_deny_insecure_transport_as_string_or_object():
    assert s3.check_bucket_policy({"policy": json.dumps(TLS_ONLY)}) == []
    assert s3.check_bucket_policy({"policy": TLS_ONLY}) == []
    boolean = json.loads(json.dumps(TLS_ONLY))
    boolean["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = False
    assert s3.check_bucket_policy({"policy": boolean}) == []


def test_bucket_policy_without_tls_deny_is_a_violation():
    allow_only = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn"}, "Action": "s3:GetObject"}]
    }
    assert s3.check_bucket_policy({"policy": json.dumps(allow_only)}) != []
    secure_allowed = json.loads(json.dumps(TLS_ONLY))
    secure_allowed["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    assert s3.check_bucket_policy({"policy": secure_allowed}) != []
    assert s3.check_bucket_policy({"policy": "not json"}) != []


def test_ownership_controls_must_disable_acls():
    assert s3.check_ownership_controls({"rule": {"objectOwnership": "BucketOwnerEnforced"}}) == []
    assert (
        "ObjectWriter"
        in s3.check_ownership_controls({"rule": {"objectOwnership": "ObjectWriter"}})[0]
    )
