"""Image build contexts for liminal.yml `images`: what `liminal build` writes and ECR receives.

Stable interface (used by `liminal build PATH --out DIR` and the AWS stack's Registry component):
- `plan_build_context(image) -> BuildContextPlan`: pure; the generated files as text, what is
  copied where, the build secrets and options.
- `write_build_context(image, out_dir, exclude=()) -> Path`: writes `out_dir/<image slug>/`, a
  self-contained Docker build context (Dockerfile at its root), and returns that folder.
- `server_command(service=None) -> list[str]`: the command a python_server container runs (the
  image's CMD without a service; with one, that service's port, workers, threads, timeouts and
  body limit). Kubernetes probes use `defaults.HEALTHCHECK_PATH` / `defaults.READINESS_PATH`.

Every context is reproducible: a base image pinned by tag (`defaults.PYTHON_BASE_IMAGE`), the
server's own dependencies pinned to the versions installed here (and used as constraints for the
image's requirements.txt, so a conflicting user pin fails the build instead of silently replacing
the server's), files in a fixed order, nothing time-dependent. Images run as a non-root user with
code owned by root. A `pip_conf` (private index credentials) is a BuildKit secret, never a file
of the context; secret files and local state never enter the context.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import PythonImage, PythonServerImage, Service, SparkImage
from liminal_pulumi.modules import module_closure
from liminal_pulumi.serving.endpoints import dump_endpoints
from liminal_pulumi.serving.settings import ENDPOINTS_FILE_NAME, PORT_ENV, ServerSettings

AnyImage = PythonImage | PythonServerImage | SparkImage

CONTEXT_MARKER = ".liminal-build-context"
APP_FOLDER = "app"  # the image source's copy, in the context
LIMINAL_FOLDER = "liminal"  # this package and its pinned requirements, in the context
PIP_CONF_SECRET_ID = "pip_conf"
SERVER_PACKAGE = "liminal_pulumi.serving"
SERVER_MODULE = f"{SERVER_PACKAGE}.__main__"  # what `python -m` runs; its imports are copied
CONTAINER_ENDPOINTS_FILE = f"{defaults.IMAGE_LIMINAL_DIR}/{ENDPOINTS_FILE_NAME}"
# What the server imports, with their dependencies pinned from this environment.
SERVER_DISTRIBUTIONS = ("flask", "gunicorn", "prometheus-client", "pydantic")
# Never copied from an image's source: local state, caches, credentials.
EXCLUDED_NAMES = (
    ".git",
    ".hg",
    ".liminal",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    ".aws",
    ".ssh",
    ".env",
    ".env.*",
    "*.pyc",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "credentials",
    ".netrc",
    ".pypirc",
    "pip.conf",
    CONTEXT_MARKER,
)


class ImageBuildError(ValueError):
    """An image that cannot be built as declared; the message names the image and the fix."""


@dataclass(frozen=True)
class BuildContextPlan:
    image: AnyImage
    slug: str  # the context's folder name under the output folder
    base_image: str
    files: dict[str, str]  # generated files, by path inside the context
    copies: dict[str, Path]  # folders copied in, by path inside the context
    build_secrets: dict[str, Path] = field(default_factory=dict)  # BuildKit secret id -> file
    no_cache: bool = False


def image_slug(tag: str) -> str:
    """A folder name for an image tag: `myorg/app:1.0` -> `myorg_app_1.0`."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", tag).strip("._") or "image"


def base_image(image: AnyImage) -> str:
    return defaults.PYTHON_BASE_IMAGE.format(python_version=image.python_version)


def server_command(service: Service | None = None) -> list[str]:
    """The serving process of a python_server container, as an exec-form command."""
    command = ["python", "-m", SERVER_PACKAGE]
    if service is None:
        return [
            *command,
            "--endpoints-file",
            CONTAINER_ENDPOINTS_FILE,
            "--app-dir",
            defaults.IMAGE_APP_DIR,
        ]
    settings = ServerSettings.from_service(
        service,
        endpoints_file=Path(CONTAINER_ENDPOINTS_FILE),
        app_dir=Path(defaults.IMAGE_APP_DIR),
    )
    return [*command, *settings.to_arguments()]


def plan_build_context(image: AnyImage) -> BuildContextPlan:
    has_requirements = (image.source / "requirements.txt").is_file()
    secrets = {PIP_CONF_SECRET_ID: _pip_conf_path(image)} if image.pip_conf else {}
    files = {".dockerignore": _dockerignore(), CONTEXT_MARKER: f"{image.image}\n"}
    copies = {APP_FOLDER: image.source}
    if isinstance(image, PythonServerImage):
        _check_server_python(image)
        if not image.endpoints:
            raise ImageBuildError(f"image {image.image!r}: a python_server image needs endpoints")
        files[f"{LIMINAL_FOLDER}/requirements.txt"] = server_requirements()
        files[f"{LIMINAL_FOLDER}/{ENDPOINTS_FILE_NAME}"] = dump_endpoints(image.endpoints)
        # Only the modules the server imports: nothing of Airflow, the CLI or the components.
        for relative, source in module_closure([SERVER_MODULE]).items():
            files[f"{LIMINAL_FOLDER}/{relative}"] = source.read_text()
    files["Dockerfile"] = dockerfile(image, has_requirements=has_requirements)
    return BuildContextPlan(
        image=image,
        slug=image_slug(image.image),
        base_image=base_image(image),
        files=dict(sorted(files.items())),
        copies=copies,
        build_secrets=secrets,
        no_cache=image.no_cache,
    )


def write_build_context(image: AnyImage, out_dir: Path, exclude: Iterable[Path] = ()) -> Path:
    """Write the image's build context to `out_dir/<slug>/` (replacing an earlier one)."""
    plan = plan_build_context(image)
    context = out_dir.resolve() / plan.slug
    if context.exists():
        if not (context / CONTEXT_MARKER).is_file():
            raise ImageBuildError(
                f"{context} exists and is not a build context written by liminal; "
                "choose another --out folder"
            )
        shutil.rmtree(context)
    context.mkdir(parents=True)
    excluded = {p.resolve() for p in exclude} | {out_dir.resolve()}
    for target, source in plan.copies.items():
        if not source.is_dir():
            raise ImageBuildError(f"image {image.image!r}: source folder {source} does not exist")
        shutil.copytree(source, context / target, symlinks=True, ignore=_ignore_for(excluded))
    for relative, text in plan.files.items():
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return context


def _ignore_for(excluded: set[Path]):  # type: ignore[no-untyped-def]
    def ignore(folder: str, names: Sequence[str]) -> set[str]:
        skipped = {n for n in names if any(fnmatch.fnmatch(n, p) for p in EXCLUDED_NAMES)}
        skipped |= {n for n in names if (Path(folder) / n).resolve() in excluded}
        return skipped

    return ignore


def _check_server_python(image: PythonServerImage) -> None:
    parts = image.python_version.split(".")
    try:
        version = tuple(int(p) for p in parts[:2])
    except ValueError:
        raise ImageBuildError(
            f"image {image.image!r}: python_version {image.python_version!r} is not a version"
        ) from None
    if version < defaults.PYTHON_SERVER_MIN_VERSION:
        wanted = ".".join(map(str, defaults.PYTHON_SERVER_MIN_VERSION))
        raise ImageBuildError(
            f"image {image.image!r}: python_version {image.python_version} is too old for the "
            f"model server; a python_server image needs {wanted} or newer"
        )


def _pip_conf_path(image: AnyImage) -> Path:
    assert image.pip_conf is not None
    path = Path(image.pip_conf).expanduser()
    return path if path.is_absolute() else image.source / path


def server_requirements() -> str:
    """The server's dependencies and theirs, pinned to the versions installed here."""
    pins: dict[str, str] = {}
    pending = list(SERVER_DISTRIBUTIONS)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in pins:
            continue
        distribution = metadata.distribution(name)
        pins[name] = distribution.version
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    return (
        "# The model server's dependencies, pinned to the versions liminal was tested with.\n"
        + "\n".join(lines)
        + "\n"
    )


def _dockerignore() -> str:
    return "\n".join(f"**/{pattern}" for pattern in EXCLUDED_NAMES if pattern != "credentials") + (
        "\n**/credentials\n"
    )


def dockerfile(image: AnyImage, *, has_requirements: bool) -> str:
    app = defaults.IMAGE_APP_DIR
    uid = defaults.IMAGE_UID
    pip_install = "pip install --no-cache-dir"
    secret_mount = (
        f"--mount=type=secret,id={PIP_CONF_SECRET_ID},target=/etc/pip.conf "
        if image.pip_conf
        else ""
    )
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# Image {image.image} ({image.type}), written by `liminal build`.",
        "# Generated: change liminal.yml or the image's source, not this file.",
        f"FROM {base_image(image)}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"RUN groupadd --system --gid {uid} {defaults.IMAGE_USER} \\",
        f" && useradd --system --uid {uid} --gid {uid} --home-dir {app} --no-create-home \\",
        f"    --shell /usr/sbin/nologin {defaults.IMAGE_USER}",
    ]
    if isinstance(image, SparkImage):
        lines += [
            "RUN apt-get update \\",
            " && apt-get install -y --no-install-recommends \\",
            f"    {defaults.SPARK_JAVA_PACKAGE} procps \\",
            " && rm -rf /var/lib/apt/lists/*",
        ]
    constraints = ""
    if isinstance(image, PythonServerImage):
        requirements = f"{defaults.IMAGE_LIMINAL_DIR}/requirements.txt"
        lines += [
            f"COPY {LIMINAL_FOLDER}/requirements.txt {requirements}",
            f"RUN {pip_install} -r {requirements}",
        ]
        constraints = f" -c {requirements}"
    lines.append(f"WORKDIR {app}")
    if has_requirements:
        lines += [
            f"COPY {APP_FOLDER}/requirements.txt {app}/requirements.txt",
            f"RUN {secret_mount}{pip_install} -r {app}/requirements.txt{constraints}",
        ]
    if isinstance(image, SparkImage):
        lines.append(
            f'RUN python -c "import pyspark" 2>/dev/null '
            f"|| {pip_install} '{defaults.SPARK_PYSPARK_REQUIREMENT}'"
        )
    if isinstance(image, PythonServerImage):
        lines += [
            f"COPY {LIMINAL_FOLDER}/ {defaults.IMAGE_LIMINAL_DIR}/",
            f"ENV PYTHONPATH={defaults.IMAGE_LIMINAL_DIR} {PORT_ENV}={defaults.SERVICE_PORT}",
        ]
    lines += [f"COPY {APP_FOLDER}/ {app}/", f"USER {uid}:{uid}"]
    if isinstance(image, PythonServerImage):
        probe = (
            "import os, urllib.request; urllib.request.urlopen("
            f"'http://127.0.0.1:' + os.environ['{PORT_ENV}'] + '{defaults.HEALTHCHECK_PATH}', "
            "timeout=3)"
        )
        lines += [
            f"EXPOSE {defaults.SERVICE_PORT}",
            "HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \\",
            f"  CMD {json.dumps(['python', '-c', probe])}",
            "STOPSIGNAL SIGTERM",
            f"CMD {json.dumps(server_command())}",
        ]
    else:
        # Batch images: each task gives its command; there is nothing to probe.
        lines.append("HEALTHCHECK NONE")
    return "\n".join(lines) + "\n"
