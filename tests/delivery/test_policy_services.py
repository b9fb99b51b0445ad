"""ECR, EFS and MWAA resource inputs, compliant and not."""

import json

from liminal_policy import ecr, efs, mwaa

REPOSITORY = {
    "name": "myorg/mydatascienceapp",
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:k"}],
}


def test_hardened_repository_is_compliant():
    assert ecr.check_repository(REPOSITORY) == []


def test_mutable_unscanned_aes_repository_reports_each_problem():
    problems = ecr.check_repository(
        REPOSITORY
        | {
            "imageTagMutability": "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": False},
            "encryptionConfigurations": [{"encryptionType": "AES256"}],
        }
    )
    assert len(problems) == 3
    assert any("IMMUTABLE" in p for p in problems)
    assert any("scanOnPush" in p for p in problems)
    assert any("KMS" in p for p in problems)
    assert len(ecr.check_repository({"name": "bare"})) == 3


def test_efs_must_be_encrypted_with_a_kms_key():
    assert efs.check_file_system({"encrypted": True, "kmsKeyId": "arn:aws:kms:k"}) == []
    assert len(efs.check_file_system({"encrypted": False})) == 2
    assert len(efs.check_file_system({"encrypted": True})) == 1


def test_efs_policy_and_backup():
    tls = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    assert efs.check_file_system_policy({"fileSystemId": "fs", "policy": json.dumps(tls)}) == []
    assert efs.check_file_system_policy({"fileSystemId": "fs", "policy": "{}"}) != []
    assert efs.check_backup_policy({"backupPolicy": {"status": "ENABLED"}}) == []
    assert efs.check_backup_policy({"backupPolicy": {"status": "DISABLED"}}) != []


def _logging(enabled: bool) -> dict:
    return {kind: {"enabled": enabled, "logLevel": "INFO"} for kind in mwaa.LOG_TYPES}


MWAA = {
    "airflowVersion": "3.0.6",
    "webserverAccessMode": "PRIVATE_ONLY",
    "loggingConfiguration": _logging(True),
    "requirementsS3Path": "requirements.txt",
    "requirementsS3ObjectVersion": "v1",
}


def test_private_fully_logged_mwaa_is_compliant():
    assert mwaa.check_environment(MWAA) == []
    unset_mode = {k: v for k, v in MWAA.items() if k != "webserverAccessMode"}
    assert mwaa.check_environment(unset_mode) == []


def test_public_webserver_is_a_violation():
    problems = mwaa.check_environment(MWAA | {"webserverAccessMode": "PUBLIC_ONLY"})
    assert problems == ["the Airflow web server must be PRIVATE_ONLY, not 'PUBLIC_ONLY'"]


def test_each_missing_log_type_is_named():
    logging = _logging(True)
    logging["workerLogs"] = {"enabled": False}
    del logging["schedulerLogs"]
    (problem,) = mwaa.check_environment(MWAA | {"loggingConfiguration": logging})
    assert "schedulerLogs" in problem and "workerLogs" in problem and "taskLogs" not in problem


def test_requirements_without_object_version_are_a_violation():
    unpinned = {k: v for k, v in MWAA.items() if k != "requirementsS3ObjectVersion"}
    (problem,) = mwaa.check_environment(unpinned)
    assert "requirementsS3ObjectVersion" in problem
    plugins = mwaa.check_environment(MWAA | {"pluginsS3Path": "plugins.zip"})
    assert len(plugins) == 1 and "pluginsS3ObjectVersion" in plugins[0]
