"""ECR repositories (one per liminal.yml image): immutable tags, scan on push, KMS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import as_list, mapping

KMS_ENCRYPTION_TYPES = frozenset({"KMS", "KMS_DSSE"})


def check_repository(props: Mapping[str, Any]) -> list[str]:
    problems = []
    mutability = props.get("imageTagMutability")
    if mutability != "IMMUTABLE":
        problems.append(f"image tags must be IMMUTABLE, not {mutability!r}")
    if mapping(props.get("imageScanningConfiguration")).get("scanOnPush") is not True:
        problems.append("images must be scanned on push (imageScanningConfiguration.scanOnPush)")
    encryption = [mapping(item) for item in as_list(props.get("encryptionConfigurations"))]
    if not any(item.get("encryptionType") in KMS_ENCRYPTION_TYPES for item in encryption):
        problems.append("the repository must be encrypted with KMS (encryptionType KMS)")
    return problems
