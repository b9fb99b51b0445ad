"""Deployment facts: where a deployed project's images, volumes and cluster live.

The AWS stack writes one such file beside the DAG loader (in MWAA's dags folder); the loader
reads it to turn the model's image tags and volume names into ECR repositories, PersistentVolume
Claims, a namespace and the cluster to run pods on. Without the file, `DeploymentFacts.local()`
applies.

How pods reach the cluster: with `cluster_name` (what the AWS stack writes), container tasks are
the Amazon provider's `EksPodOperator`, which builds its kubeconfig and token when the task runs
from the AWS connection's credentials (on MWAA, the execution role): no AWS CLI, no kubeconfig
file. Otherwise `kubeconfig` (a file beside this one) or, without it, the in-cluster
configuration, with the plain `KubernetesPodOperator`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from liminal_pulumi import defaults

FACTS_FILE_NAME = "liminal_deployment.json"


class DeploymentFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # image tag in liminal.yml -> full image reference to pull (repository URL with tag or digest)
    images: dict[str, str] = Field(default_factory=dict)
    # volume name in liminal.yml -> PersistentVolumeClaim name on the cluster
    claims: dict[str, str] = Field(default_factory=dict)
    namespace: str = defaults.DEFAULT_NAMESPACE
    # kubeconfig path relative to the folder of the facts file; None: in-cluster / default config
    # (unused when cluster_name is set)
    kubeconfig: str | None = None
    region: str | None = None
    # the EKS cluster the pods run on (EksPodOperator, with `region`)
    cluster_name: str | None = None

    @classmethod
    def local(cls) -> DeploymentFacts:
        return cls()

    @classmethod
    def read(cls, folder: Path) -> DeploymentFacts:
        path = folder / FACTS_FILE_NAME
        if not path.is_file():
            return cls.local()
        return cls.model_validate_json(path.read_text())

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    def image_ref(self, tag: str) -> str:
        return self.images.get(tag, tag)

    def claim(self, volume: str, claim_name: str | None) -> str:
        return self.claims.get(volume) or claim_name or volume
