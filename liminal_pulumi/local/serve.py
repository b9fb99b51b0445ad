"""`liminal serve`: a project's service on this machine, under gunicorn, with the local models.

The same server command as in the service's container (`server_main`), run in the image's source
folder with this Python. Volumes are the local folders `liminal run` writes to (the volume's
`local.path`, else `.liminal/volumes/<name>`): mount paths written for the cluster
(`/mnt/...`) in the service's env_vars are rewritten to those folders, as the local runner does
for tasks, so the server finds the models the local pipeline stored.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from liminal_pulumi.dsl.model import Project, PythonServerImage, Service
from liminal_pulumi.local.run import (
    mount_env_name,
    rewrite_mount_paths,
    state_dir,
    volume_folder,
)
from liminal_pulumi.serving.endpoints import dump_endpoints
from liminal_pulumi.serving.prediction_log import MONITORING_ENV, MonitorSettings
from liminal_pulumi.serving.settings import ENDPOINTS_FILE_NAME, ServerSettings

LOCAL_HOST = "127.0.0.1"
SERVE_STATE_DIR = "serve"


class ServeError(Exception):
    """A project or command line that cannot be served; the message says why and what to do."""


@dataclass(frozen=True)
class LocalServePlan:
    service: Service
    image: PythonServerImage
    settings: ServerSettings
    argv: tuple[str, ...]
    environment: dict[str, str]  # set on top of the caller's environment
    cwd: Path

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"


def choose_service(project: Project, name: str | None) -> tuple[Service, PythonServerImage]:
    services = {service.service: service for _, service in project.services()}
    if not services:
        raise ServeError(f"{project.root}: the project defines no services to serve")
    if name is None:
        if len(services) > 1:
            raise ServeError(
                f"{project.root}: the project has {len(services)} services "
                f"({', '.join(sorted(services))}); choose one with --service"
            )
        (service,) = services.values()
    elif name in services:
        service = services[name]
    else:
        raise ServeError(
            f"{project.root}: no service {name!r}; the services are {', '.join(sorted(services))}"
        )
    image = project.images().get(service.image)
    if not isinstance(image, PythonServerImage):
        kind = "missing" if image is None else f"of type {image.type}"
        raise ServeError(
            f"service {service.service!r}: its image {service.image!r} is {kind}; "
            "only a python_server image can be served"
        )
    return service, image


def mount_folders(project: Project, service: Service) -> dict[str, Path]:
    """Each of the service's mount paths and the local folder that stands for it."""
    volumes = project.volumes()
    folders: dict[str, Path] = {}
    for mount in service.mounts:
        volume = volumes.get(mount.volume)
        folder = volume_folder(
            project.root, mount.volume, volume.local_path if volume is not None else None
        )
        folders[mount.path] = folder / mount.sub_path if mount.sub_path else folder
    return folders


def local_environment(project: Project, service: Service) -> dict[str, str]:
    folders = mount_folders(project, service)
    as_text = {path: str(folder) for path, folder in folders.items()}
    environment = {
        key: rewrite_mount_paths(value, as_text) for key, value in service.env_vars.items()
    }
    for mount in service.mounts:
        environment[mount_env_name(mount.volume)] = as_text[mount.path]
    return environment


def local_monitoring_environment(project: Project, service: Service) -> dict[str, str]:
    """The server's monitoring settings with the log folder on the local volume folder."""
    if service.monitoring is None:
        return {}
    folders = {path: str(folder) for path, folder in mount_folders(project, service).items()}
    settings = MonitorSettings.from_monitoring(service.service, service.monitoring)
    local_dir = rewrite_mount_paths(settings.predictions_dir, folders)
    return {MONITORING_ENV: dataclasses.replace(settings, predictions_dir=local_dir).to_json()}


def plan_local_serve(
    project: Project,
    service_name: str | None = None,
    *,
    port: int | None = None,
    host: str = LOCAL_HOST,
) -> LocalServePlan:
    service, image = choose_service(project, service_name)
    endpoints_file = endpoints_file_path(project, service)
    settings = ServerSettings.from_service(
        service, host=host, port=port, endpoints_file=endpoints_file, app_dir=image.source
    )
    return LocalServePlan(
        service=service,
        image=image,
        settings=settings,
        argv=(sys.executable, "-m", "liminal_pulumi.serving", *settings.to_arguments()),
        environment={
            **local_environment(project, service),
            **local_monitoring_environment(project, service),
            "PYTHONUNBUFFERED": "1",
        },
        cwd=image.source,
    )


def endpoints_file_path(project: Project, service: Service) -> Path:
    return state_dir(project.root) / SERVE_STATE_DIR / service.service / ENDPOINTS_FILE_NAME


def write_endpoints_file(plan: LocalServePlan) -> None:
    plan.settings.endpoints_file.parent.mkdir(parents=True, exist_ok=True)
    plan.settings.endpoints_file.write_text(dump_endpoints(plan.image.endpoints))


def exec_server(plan: LocalServePlan) -> None:
    """Become the server: its signals (Ctrl-C, SIGTERM) reach gunicorn's master directly."""
    if not plan.image.source.is_dir():
        raise ServeError(
            f"image {plan.image.image!r}: source folder {plan.image.source} is missing"
        )
    write_endpoints_file(plan)
    os.chdir(plan.cwd)
    os.execve(plan.argv[0], list(plan.argv), {**os.environ, **plan.environment})
