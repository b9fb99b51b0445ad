"""The names liminal.yml names become once deployed, and the rules those names must follow.

The deployment transforms names: a service becomes a Kubernetes DNS-1123 label (`fraud_scorer`
-> `fraud-scorer`, cut to 63 characters), an image tag an ECR repository (`MyOrg/App:1.0` ->
`<prefix>/myorg/app`), a volume a PersistentVolumeClaim. These pure functions are the one
implementation of those transformations: the plans (`infra/plans/service_plan.py`,
`registry_plan.py`, `model_store_plan.py`) use them to name resources, and validation uses them
to find names that are invalid or collide *after* the transformation.

Sources of the rules: Kubernetes "Object Names and IDs" (DNS-1123 label: at most 63 characters,
lower-case alphanumerics and `-`, starting and ending alphanumeric; DNS-1123 subdomain: at most
253, `.` allowed too); Kubernetes volumeMounts `subPath` (relative, without `..`); Amazon ECR
`CreateRepository` (repositoryName: 2-256 characters, pattern
`(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`); Docker image references (a
tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
ECR_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ECR_REPOSITORY_MAX = 256
DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# The stack prefix of repository names (`liminal-<stack>`) is known only at deployment; names are
# checked with the longest stack name the settings allow a prefix for.
SAMPLE_REPOSITORY_PREFIX = "liminal-staging"


def k8s_name(name: str) -> str:
    """A DNS-1123 label from a liminal.yml name (`my_server` -> `my-server`), `service` when
    nothing usable is left."""
    label = _NOT_DNS.sub("-", name.lower()).strip("-")
    return label[:DNS_LABEL_MAX].rstrip("-") or "service"


def volume_name(volume: str) -> str:
    """The pod volume name of a liminal.yml volume (a DNS-1123 label)."""
    return k8s_name(f"vol-{volume}")


def dns_label(text: str) -> str:
    """`text` as a Kubernetes DNS label: lower case, dashes for anything else, at most 63.

    Raises ValueError when nothing usable is left (e.g. `___`).
    """
    label = _NOT_DNS.sub("-", text.lower()).strip("-")[:DNS_LABEL_MAX].rstrip("-")
    if not label:
        raise ValueError(f"{text!r} has nothing usable as a Kubernetes name")
    return label


def image_name(image_tag: str) -> str:
    """The repository part of a liminal.yml image (`myorg/app:1.0` -> `myorg/app`)."""
    last = image_tag.rsplit("/", 1)[-1]
    if ":" in last:
        return image_tag[: len(image_tag) - len(last)] + last.split(":", 1)[0]
    return image_tag


def image_tag_part(image_tag: str) -> str | None:
    """The tag after the last `:` of the last path part (`myorg/app:1.0` -> `1.0`), or None."""
    last = image_tag.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def repository_name(prefix: str, image_tag: str) -> str:
    """An ECR repository name: lowercase, `[a-z0-9._/-]`, namespaced by the stack's prefix."""
    name = re.sub(r"[^a-z0-9._/-]+", "-", f"{prefix}/{image_name(image_tag)}".lower())
    return re.sub(r"/+", "/", name).strip("-/")


def resource_slug(image_tag: str) -> str:
    """A logical resource name for an image (`myorg/app` -> `myorg-app`)."""
    return re.sub(r"[^a-z0-9]+", "-", image_name(image_tag).lower()).strip("-")


def path_component_problem(name: str) -> str | None:
    """Why `name` cannot be one folder name inside a project's folders (volumes, secrets,
    pipelines and services name folders under `.liminal/`), or None: a name holding `/` or
    being `..` would write outside its folder."""
    if not name:
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it holds `/` or `\\`; it names a folder, so it must be one name"
    if name in (".", ".."):
        return f"`{name}` is not a name (it is the current or the parent folder)"
    if "\x00" in name:
        return "it holds a NUL character"
    return None


def sub_path_problem(sub_path: str) -> str | None:
    """Why `sub_path` is not a Kubernetes volumeMount subPath inside its volume, or None."""
    if not sub_path:
        return "it is empty; leave `sub_path` out to mount the whole volume"
    if sub_path.startswith("/"):
        return "it is absolute; a sub_path is a folder inside the volume, e.g. `models/v1`"
    if ".." in PurePosixPath(sub_path).parts:
        return "it holds `..`; a sub_path stays inside its volume"
    if "\x00" in sub_path:
        return "it holds a NUL character"
    return None


def dns_label_problem(name: str) -> str | None:
    """Why `name` is not a DNS-1123 label as written, or None."""
    if len(name) > DNS_LABEL_MAX:
        return f"it is {len(name)} characters long; Kubernetes allows at most {DNS_LABEL_MAX}"
    if not DNS_LABEL.match(name):
        return (
            "Kubernetes names are lower-case letters, digits and `-`, starting and ending "
            f"with a letter or digit (e.g. `{k8s_name(name)}`)"
        )
    return None


def dns_subdomain_problem(name: str) -> str | None:
    """Why `name` is not a DNS-1123 subdomain (a Secret's name) as written, or None."""
    if len(name) > DNS_SUBDOMAIN_MAX:
        return f"it is {len(name)} characters long; Kubernetes allows at most {DNS_SUBDOMAIN_MAX}"
    if not DNS_SUBDOMAIN.match(name):
        return (
            "Kubernetes names are lower-case letters, digits, `-` and `.`, starting and ending "
            f"with a letter or digit (e.g. `{k8s_name(name)}`)"
        )
    return None


def image_problem(image_tag: str) -> str | None:
    """Why `image_tag` cannot become an ECR repository and a Docker tag, or None."""
    if not image_tag.strip():
        return "it is empty"
    tag = image_tag_part(image_tag)
    if tag is not None and not DOCKER_TAG.match(tag):
        return (
            f"its tag `{tag}` is not a Docker tag (letters, digits, `_`, `.` and `-`, at most "
            "128, not starting with `.` or `-`)"
        )
    repository = repository_name(SAMPLE_REPOSITORY_PREFIX, image_tag)
    if len(repository) > ECR_REPOSITORY_MAX or not ECR_REPOSITORY.match(repository):
        return (
            f"it becomes the ECR repository `{repository}`, which ECR refuses (lower-case "
            "letters and digits separated by `.`, `_`, `-` or `/`, at most 256 characters)"
        )
    return None
