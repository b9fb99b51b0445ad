"""The Pulumi program: a stack's settings + a liminal project -> the whole AWS platform.

`pulumi up` runs this file (Pulumi.yaml: `main: infra/`); `liminal plan` runs it under mocks.
User mistakes (settings, liminal.yml) stop the program before any resource is registered, with
the messages naming the config key or the file, line and key.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from stack_settings import SettingsError, StackSettings, platform_args, read_settings

from liminal_pulumi.components.platform import LiminalPlatform
from liminal_pulumi.dsl.diagnostics import LiminalConfigError
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import Project

REPO_ROOT = Path(__file__).resolve().parents[1]


def project_folder(settings: StackSettings) -> Path:
    """`liminal:project` is relative to the repository root (or absolute)."""
    return (REPO_ROOT / settings.project).resolve()


def deploy(settings: StackSettings, project: Project) -> LiminalPlatform:
    """Build the platform and export the stack's outputs."""
    platform = LiminalPlatform("liminal", platform_args(settings, project))
    pulumi.export("airflowWebserverUrl", platform.airflow_webserver_url)
    pulumi.export("bucketName", platform.bucket_name)
    pulumi.export("clusterName", platform.cluster_name)
    pulumi.export("kubeconfig", pulumi.Output.secret(platform.kubeconfig))
    pulumi.export("repositoryUrls", platform.repository_urls)
    pulumi.export("serviceEndpoints", platform.service_endpoints)
    # Service -> CloudWatch dashboard URL, for services with a `monitoring` section.
    pulumi.export("dashboardUrls", platform.dashboard_urls)
    pulumi.export("modelStoreId", platform.model_store_id)
    # What the next environment promotes (liminal:promoteFrom): digests and liminal.yml revision.
    pulumi.export("imageRefs", platform.image_refs)
    pulumi.export("projectRevision", platform.project_revision)
    return platform


def main() -> None:
    try:
        settings = read_settings()
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    try:
        project = load_project(project_folder(settings))
    except LiminalConfigError as error:
        raise pulumi.RunError(str(error)) from None
    deploy(settings, project)


if __name__ == "__main__":
    main()
