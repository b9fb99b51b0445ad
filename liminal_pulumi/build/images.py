"""Image build contexts for liminal.yml `images`: what `liminal build` writes and ECR receives.

Stable interface (used by `liminal build PATH --out DIR` and the AWS stack's Registry component):
- `plan_build_context(image) -> BuildContextPlan`: pure; the generated files as text, what is
  copied where, the build secrets and options.
- `write_build_context(image, out_dir, exclude=()) -> Path`: writes `out_dir/<image slug>/`, a
  self-contained Docker build context (Dockerfile at its root), and returns that folder;
  `write_build_context_report` also returns what of the source it left out (credentials, local
  state, `.dockerignore` / `.liminalignore` patterns, `exclude`: see `EXCLUDED_PATTERNS`).
- `project_secret_files(project)`: the files to pass as `exclude` (`secrets[].local_path_file`).
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

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pathspec
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import (
    Project,
    PythonImage,
    PythonServerImage,
    Service,
    SparkImage,
)
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
# Never copied from an image's source (gitignore patterns, first; an image's `.dockerignore` and
# `.liminalignore` come after them): local state and caches, then credentials of the usual tools
# (git, npm, pip, AWS, Kubernetes, Docker, SSH, GnuPG, cloud SDKs, Terraform state), dotenv files
# and private keys. A pattern ending in `/` is a folder.
EXCLUDED_PATTERNS = (
    ".git/",
    ".hg/",
    ".svn/",
    ".liminal/",
    ".venv/",
    "venv/",
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "node_modules/",
    "*.pyc",
    ".git-credentials",
    ".gitconfig",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".pypirc",
    "pip.conf",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".aws/",
    ".azure/",
    ".kube/",
    "kubeconfig",
    ".docker/",
    ".ssh/",
    ".gnupg/",
    "gcloud/",
    ".terraform/",
    "*.tfstate",
    "*.tfstate.*",
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "credentials",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    CONTEXT_MARKER,
)
DOCKERIGNORE_FILE = ".dockerignore"
LIMINALIGNORE_FILE = ".liminalignore"


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


@dataclass(frozen=True)
class WrittenContext:
    path: Path  # the context folder
    left_out: tuple[str, ...]  # source paths not copied (relative; a folder ends with `/`)


def write_build_context(image: AnyImage, out_dir: Path, exclude: Iterable[Path] = ()) -> Path:
    """Write the image's build context to `out_dir/<slug>/` (replacing an earlier one).

    `exclude`: files or folders never copied (the project's secret files, say); see
    `write_build_context_report` for what was left out.
    """
    return write_build_context_report(image, out_dir, exclude).path


def write_build_context_report(
    image: AnyImage, out_dir: Path, exclude: Iterable[Path] = ()
) -> WrittenContext:
    """`write_build_context`, also returning what of the image's source it left out.

    Left out: `EXCLUDED_PATTERNS`, the patterns of the source's `.dockerignore` (Docker's
    meaning: relative to the source folder) and `.liminalignore` (gitignore's meaning), `exclude`
    and `out_dir`. Raises ImageBuildError for a missing source folder or an `out_dir` folder that
    liminal did not write.
    """
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
    left_out: list[str] = []
    for target, source in plan.copies.items():
        if not source.is_dir():
            raise ImageBuildError(f"image {image.image!r}: source folder {source} does not exist")
        left_out += _copy_source(source, context / target, excluded)
    for relative, text in plan.files.items():
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return WrittenContext(context, tuple(left_out))


def project_secret_files(project: Project) -> list[Path]:
    """Every `secrets[].local_path_file` of the project: never part of any build context."""
    return [
        secret.local_path_file
        for file in project.files
        for secret in file.secrets
        if secret.local_path_file is not None
    ]


def source_ignore(source: Path) -> tuple[pathspec.PathSpec, list[str]]:
    """What is never copied from `source`: the defaults, then its `.dockerignore` and
    `.liminalignore` (later patterns win, so `!name` there takes a default back); and the
    exception (`!`) patterns, which may take back a file inside an ignored folder, as Docker
    does."""
    lines = list(EXCLUDED_PATTERNS)
    dockerignore = source / DOCKERIGNORE_FILE
    if dockerignore.is_file():
        lines += map(_dockerignore_as_gitignore, dockerignore.read_text().splitlines())
    liminalignore = source / LIMINALIGNORE_FILE
    if liminalignore.is_file():
        lines += liminalignore.read_text().splitlines()
    exceptions = [line.strip()[1:] for line in lines if line.strip().startswith("!")]
    return pathspec.GitIgnoreSpec.from_lines(lines), exceptions


def _may_take_back(exceptions: list[str], folder: str) -> bool:
    """Whether an exception pattern may match something inside `folder` (then the folder is
    walked, each file judged on its own, rather than left out whole)."""
    for pattern in exceptions:
        anchored = pattern.lstrip("/")
        if pattern.startswith("**") or "/" not in pattern.rstrip("/"):
            return True  # matches at any depth
        if anchored.startswith(folder + "/") or folder.startswith(anchored.rstrip("/") + "/"):
            return True
    return False


def _dockerignore_as_gitignore(line: str) -> str:
    """A .dockerignore line as a gitignore pattern: Docker anchors every pattern at the context
    root (https://docs.docker.com/build/concepts/context/#dockerignore-files), gitignore only
    those with a `/` before the end."""
    text = line.strip()
    if not text or text.startswith("#"):
        return ""
    negate = text.startswith("!")
    pattern = text[1:].strip() if negate else text
    pattern = pattern.removeprefix("./").lstrip("/")
    if not pattern.startswith("**"):
        pattern = "/" + pattern
    return ("!" if negate else "") + pattern


def _copy_source(source: Path, target: Path, excluded: set[Path]) -> list[str]:
    """Copy `source` to `target` without what `ignore` matches or `excluded` holds; returns the
    relative paths left out, sorted (folders end with `/` and are not descended into).

    Symbolic links are copied as links, never followed, as `docker build` treats them.
    """
    ignore, exceptions = source_ignore(source)
    left_out = []
    target.mkdir(parents=True, exist_ok=True)
    for folder, names, files in os.walk(source):
        here = Path(folder)
        relative_folder = here.relative_to(source)
        for name in sorted(names):
            path = here / name
            relative = (relative_folder / name).as_posix()
            if path.is_symlink():  # os.walk does not descend into it: copied below as a link
                files.append(name)
                continue
            ignored = ignore.match_file(relative + "/") and not _may_take_back(exceptions, relative)
            if ignored or path.resolve() in excluded:
                names.remove(name)
                left_out.append(relative + "/")
                continue
            (target / relative).mkdir()
        for name in sorted(files):
            path = here / name
            relative = (relative_folder / name).as_posix()
            if ignore.match_file(relative) or path.resolve() in excluded:
                left_out.append(relative)
                continue
            shutil.copy2(path, target / relative, follow_symlinks=False)
    return sorted(left_out)


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
    """The context's own .dockerignore: the default patterns again, anywhere in the context
    (nothing they match was copied; this keeps a file added by hand out of the image too)."""
    return "\n".join(f"**/{pattern.rstrip('/')}" for pattern in EXCLUDED_PATTERNS) + "\n"


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
