"""EFS (the model store): encrypted with KMS, TLS only, backed up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import denies_insecure_transport, mapping, policy_document


def check_file_system(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if props.get("encrypted") is not True:
        problems.append("the file system must be encrypted (encrypted=True)")
    if not props.get("kmsKeyId"):
        problems.append("the file system must be encrypted with a KMS key of the stack (kmsKeyId)")
    return problems


def check_file_system_policy(props: Mapping[str, Any]) -> list[str]:
    if denies_insecure_transport(policy_document(props.get("policy"))):
        return []
    return ["the file system policy must deny access without TLS (aws:SecureTransport false)"]


def check_backup_policy(props: Mapping[str, Any]) -> list[str]:
    status = mapping(props.get("backupPolicy")).get("status")
    if status == "ENABLED":
        return []
    return [f"the file system backup policy must be ENABLED, not {status!r}"]
