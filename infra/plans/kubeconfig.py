"""A kubeconfig for an existing EKS cluster, for the Kubernetes provider of a Pulumi program.

Its user runs `aws eks get-token` with whatever credentials `pulumi up` has, so the file holds no
secret and the identity's access entry decides what it may do. (MWAA does not use it: its pod
operator, `EksPodOperator`, builds its own token from the execution role.)
"""

from __future__ import annotations

from typing import Any

import yaml

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def eks_kubeconfig(
    *, cluster_name: str, endpoint: str, certificate_authority_data: str, region: str
) -> dict[str, Any]:
    context = f"{cluster_name}@{region}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority_data,
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": context}}],
        "current-context": context,
        "preferences": {},
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": "aws",
                        "args": [
                            "eks",
                            "get-token",
                            "--cluster-name",
                            cluster_name,
                            "--region",
                            region,
                            "--output",
                            "json",
                        ],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }


def eks_kubeconfig_yaml(
    *, cluster_name: str, endpoint: str, certificate_authority_data: str, region: str
) -> str:
    return yaml.safe_dump(
        eks_kubeconfig(
            cluster_name=cluster_name,
            endpoint=endpoint,
            certificate_authority_data=certificate_authority_data,
            region=region,
        ),
        sort_keys=False,
    )
