"""Names and directories of the model store's volumes on EFS and the cluster.

Each liminal.yml volume gets its own EFS access point (so two volumes never share files), a
PersistentVolume bound to exactly one PersistentVolumeClaim in the liminal namespace, and the
claim name the DAGs and services mount (liminal.yml's `claim_name`, else the volume's name made
a valid Kubernetes name; the deployment facts carry it to the DAG loader).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Volume

# The name transformations live with the DSL, which checks names for collisions after them.
from liminal_pulumi.dsl.names import DNS_LABEL, DNS_LABEL_MAX, dns_label

__all__ = ["dns_label"]

MAX_NAME = DNS_LABEL_MAX
_DNS_LABEL = DNS_LABEL


@dataclass(frozen=True)
class VolumePlan:
    volume: str
    claim_name: str
    persistent_volume_name: str
    root_directory: str


def plan_volumes(volumes: Iterable[Volume], namespace: str) -> tuple[VolumePlan, ...]:
    plans: list[VolumePlan] = []
    claims: dict[str, str] = {}
    for volume in sorted(volumes, key=lambda v: v.volume):
        claim = volume.claim_name or dns_label(volume.volume)
        if not _DNS_LABEL.match(claim) or len(claim) > MAX_NAME:
            raise ValueError(
                f"volume {volume.volume!r}: claim name {claim!r} is not a valid Kubernetes name "
                "(lower case letters, digits and '-', at most 63)"
            )
        if claim in claims:
            raise ValueError(
                f"volumes {claims[claim]!r} and {volume.volume!r} both use claim {claim!r}"
            )
        claims[claim] = volume.volume
        plans.append(
            VolumePlan(
                volume=volume.volume,
                claim_name=claim,
                # PersistentVolumes are cluster-wide: the namespace keeps stacks sharing a
                # cluster apart.
                persistent_volume_name=dns_label(f"{namespace}-{claim}"),
                root_directory=f"{defaults.EFS_ROOT_DIRECTORY}/{dns_label(volume.volume)}",
            )
        )
    return tuple(plans)
