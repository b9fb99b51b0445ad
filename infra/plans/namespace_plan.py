"""The Kubernetes namespace liminal workloads run in: its labels (Pod Security admission)."""

from __future__ import annotations


def namespace_labels() -> dict[str, str]:
    """Labels of the namespace `Cluster` (or `LiminalPlatform`, on an existing cluster) creates.

    Pipeline images are the user's: Pod Security admission enforces `baseline` and warns about
    what `restricted` would refuse (Kubernetes docs, "Pod Security Admission").
    """
    return {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "app.kubernetes.io/managed-by": "liminal",
    }
