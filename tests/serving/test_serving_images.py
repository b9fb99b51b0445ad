"""Generated image build contexts: files, base image, user, commands, entry point, health check,
what is kept out, reproducibility, and a server started from a written context's own files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serving_helpers import IRIS, Launch, iris_endpoints, post_json, publish_model, train_model
from typer.testing import CliRunner

import liminal_pulumi
from liminal_pulumi import defaults
from liminal_pulumi.build.images import (
    CONTAINER_ENDPOINTS_FILE,
    ImageBuildError,
    plan_build_context,
    server_command,
    server_requirements,
    write_build_context,
)
from liminal_pulumi.cli import app
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import PythonImage, PythonServerImage, Service, SparkImage
from liminal_pulumi.serving.endpoints import load_endpoints
from liminal_pulumi.serving.settings import ServerSettings, parse_arguments


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = dockerfile.replace("\\\n", " ")
    pairs = []
    for line in joined.splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword, " ".join(rest.split())))
    return pairs


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "serving.py").write_text((IRIS / "serving.py").read_text())
    (folder / "model_store.py").write_text((IRIS / "model_store.py").read_text())
    (folder / "requirements.txt").write_text("scikit-learn\n")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "util.py").write_text("X = 1\n")
    # What must never reach an image:
    (folder / ".env").write_text("AWS_SECRET_ACCESS_KEY=do-not-ship\n")
    (folder / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (folder / "my_credentials.json").write_text('{"token": "secret"}')
    (folder / ".liminal" / "volumes").mkdir(parents=True)
    (folder / ".liminal" / "volumes" / "model.pkl").write_bytes(b"big model")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "serving.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[remote]\n")
    return folder


def server_image(source: Path, **fields: object) -> PythonServerImage:
    return PythonServerImage(
        image="myorg/app:1.0", source=source, endpoints=iris_endpoints(), **fields
    )


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- the Dockerfile -----------------------------------------------------------------------------


def test_python_server_dockerfile(source: Path) -> None:
    plan = plan_build_context(server_image(source))
    steps = instructions(plan.files["Dockerfile"])
    keywords = [k for k, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim-bookworm")
    assert plan.base_image == "python:3.11-slim-bookworm"
    assert plan.slug == "myorg_app_1.0"

    # A non-root user, created before use, and every build step before switching to it.
    uid = defaults.IMAGE_UID
    assert any(k == "RUN" and f"useradd --system --uid {uid}" in a for k, a in steps)
    assert ("USER", f"{uid}:{uid}") in steps
    user_at = keywords.index("USER")
    assert all(k not in ("RUN", "COPY") for k in keywords[user_at + 1 :])

    runs = [a for k, a in steps if k == "RUN"]
    assert "pip install --no-cache-dir -r /opt/liminal/requirements.txt" in runs
    # The image's requirements, held to the server's pins.
    assert (
        "pip install --no-cache-dir -r /app/requirements.txt -c /opt/liminal/requirements.txt"
        in runs
    )
    assert ("ENV", "PYTHONPATH=/opt/liminal LIMINAL_SERVER_PORT=8080") in steps
    assert ("EXPOSE", "8080") in steps

    # The entry point is the server command the Kubernetes Deployment runs.
    cmd = json.loads(dict(steps)["CMD"])
    assert cmd == server_command()
    assert cmd[:3] == ["python", "-m", "liminal_pulumi.serving"]
    healthcheck = dict(steps)["HEALTHCHECK"]
    assert "/healthcheck" in healthcheck and "LIMINAL_SERVER_PORT" in healthcheck
    assert "secret" not in plan.files["Dockerfile"].lower()
    assert plan.build_secrets == {}


def test_server_command_carries_the_service_settings() -> None:
    service = Service(
        service="s",
        image="i",
        port=9000,
        workers=3,
        threads=8,
        timeout_seconds=45,
        max_body_bytes=2048,
    )
    settings = parse_arguments(server_command(service)[3:])
    assert settings == ServerSettings(
        host="0.0.0.0",
        port=9000,
        workers=3,
        threads=8,
        timeout_seconds=45,
        graceful_timeout_seconds=defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS,
        max_body_bytes=2048,
        endpoints_file=Path(CONTAINER_ENDPOINTS_FILE),
        app_dir=Path(defaults.IMAGE_APP_DIR),
    )


def test_batch_python_and_spark_images(source: Path) -> None:
    python = plan_build_context(
        PythonImage(image="myorg/batch", source=source, python_version="3.9")
    )
    steps = instructions(python.files["Dockerfile"])
    assert steps[0] == ("FROM", "python:3.9-slim-bookworm")
    assert ("HEALTHCHECK", "NONE") in steps
    assert "CMD" not in dict(steps)
    assert ("USER", f"{defaults.IMAGE_UID}:{defaults.IMAGE_UID}") in steps
    assert set(python.copies) == {"app"}
    assert not any(path.startswith("liminal/") for path in python.files)

    spark = plan_build_context(SparkImage(image="myorg/spark", source=source))
    dockerfile = spark.files["Dockerfile"]
    assert defaults.SPARK_JAVA_PACKAGE in dockerfile
    assert defaults.SPARK_PYSPARK_REQUIREMENT in dockerfile


def test_pip_conf_is_a_build_secret_never_a_file(source: Path, tmp_path: Path) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nindex-url = https://user:token@example.invalid/simple\n")
    image = server_image(source, pip_conf=str(pip_conf))
    plan = plan_build_context(image)
    assert plan.build_secrets == {"pip_conf": pip_conf}
    assert "--mount=type=secret,id=pip_conf,target=/etc/pip.conf" in plan.files["Dockerfile"]
    context = write_build_context(image, tmp_path / "out")
    assert not any("token" in (p.read_text(errors="ignore")) for p in context.rglob("*.conf"))
    assert "token" not in (context / "Dockerfile").read_text()


def test_python_server_on_a_python_too_old_for_the_server_is_refused(source: Path) -> None:
    with pytest.raises(ImageBuildError, match="python_version 3.7 is too old"):
        plan_build_context(server_image(source, python_version="3.7"))


def test_server_requirements_pin_what_is_installed_here() -> None:
    from importlib.metadata import version

    pins = dict(line.split("==") for line in server_requirements().splitlines() if "==" in line)
    for name in ("flask", "gunicorn", "prometheus-client", "pydantic", "werkzeug"):
        assert pins[name] == version(name)


# --- the written context ------------------------------------------------------------------------


def test_written_context_holds_the_code_and_nothing_secret(source: Path, tmp_path: Path) -> None:
    secret_file = source / "my_credentials.json"
    context = write_build_context(server_image(source), tmp_path / "out", exclude=[secret_file])
    assert context == (tmp_path / "out" / "myorg_app_1.0").resolve()
    files = set(tree(context))
    assert {
        "Dockerfile",
        ".dockerignore",
        "app/serving.py",
        "app/requirements.txt",
        "app/helpers/util.py",
        "liminal/requirements.txt",
        "liminal/liminal_endpoints.json",
        "liminal/liminal_pulumi/serving/__main__.py",
        "liminal/liminal_pulumi/serving/app.py",
    } <= files
    kept_out_names = (".env", "server.pem", "my_credentials.json", ".liminal", "__pycache__")
    for kept_out in kept_out_names:
        assert not any(kept_out in f.split("/") for f in files), kept_out
    assert not any(f.startswith("app/.git") for f in files)
    assert load_endpoints(context / "liminal/liminal_endpoints.json") == iris_endpoints()
    dockerignore = (context / ".dockerignore").read_text().splitlines()
    assert {"**/.env", "**/*.pem", "**/.liminal", "**/__pycache__"} <= set(dockerignore)


def test_contexts_are_reproducible_and_replaced_cleanly(source: Path, tmp_path: Path) -> None:
    first = tree(write_build_context(server_image(source), tmp_path / "a"))
    (source / "stale.py").write_text("")
    (source / "stale.py").unlink()
    second = tree(write_build_context(server_image(source), tmp_path / "a"))
    third = tree(write_build_context(server_image(source), tmp_path / "b"))
    assert first == second == third


def test_out_folder_inside_the_source_is_not_copied_into_itself(source: Path) -> None:
    context = write_build_context(server_image(source), source / "build")
    write_build_context(server_image(source), source / "build")
    assert not (context / "app" / "build").exists()


def test_a_folder_liminal_did_not_write_is_never_replaced(source: Path, tmp_path: Path) -> None:
    precious = tmp_path / "out" / "myorg_app_1.0"
    precious.mkdir(parents=True)
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ImageBuildError, match="not a build context written by liminal"):
        write_build_context(server_image(source), tmp_path / "out")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_the_context_runs_as_the_container_would(
    source: Path, tmp_path: Path, launch: Launch
) -> None:
    """The image's CMD, with the context's folders where the Dockerfile puts them."""
    context = write_build_context(server_image(source), tmp_path / "out")
    env = {
        "PYTHONPATH": str(context / "liminal"),
        "MOUNT_PATH": str(tmp_path / "store"),
        "PYTHONNOUSERSITE": "1",
    }
    imported = subprocess.run(
        [sys.executable, "-c", "import liminal_pulumi.serving as m; print(m.__file__)"],
        env={**os.environ, **env},
        cwd=context / "app",
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(imported.stdout.strip()) == context / "liminal/liminal_pulumi/serving/__init__.py"
    assert Path(liminal_pulumi.__file__).parent != context / "liminal/liminal_pulumi"

    command = [sys.executable if part == "python" else part for part in server_command()]
    command = [
        str(context / "liminal/liminal_endpoints.json")
        if part == CONTAINER_ENDPOINTS_FILE
        else str(context / "app")
        if part == defaults.IMAGE_APP_DIR
        else part
        for part in command
    ]
    publish_model(tmp_path / "store", "20250101T000000000000Z", train_model())
    server = launch(context / "app", (), env=env, command=command, cwd=context / "app")
    reply = post_json(server.port, "/predict", {"petal_width": "2.1"})
    assert reply.status == 200, server.log()
    assert reply.json()["version"] == "20250101T000000000000Z"  # type: ignore[index]


# --- liminal build ------------------------------------------------------------------------------


def test_liminal_build_writes_the_iris_context(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", str(IRIS), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    image = load_project(IRIS).files[0].images[0]
    context = tmp_path / "myorg_mydatascienceapp"
    assert f"{image.image}: {context}" in result.output
    assert (context / "Dockerfile").read_text() == plan_build_context(image).files["Dockerfile"]
    assert (context / "app" / "serving.py").is_file()
    assert not (context / "app" / ".liminal").exists()


def test_liminal_build_writes_what_loads_beside_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    shutil.copytree(IRIS, folder / "iris", ignore=shutil.ignore_patterns(".liminal"))
    broken = folder / "broken" / "liminal.yml"
    broken.parent.mkdir()
    broken.write_text("name: broken\nimages:\n  - image: x\n    type: pyton_server\n")
    result = CliRunner().invoke(app, ["build", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{broken}:4:11:" in result.output and "python_server" in result.output
    assert (tmp_path / "out" / "myorg_mydatascienceapp" / "Dockerfile").is_file()
    assert "Traceback" not in result.output


def test_liminal_build_reports_a_bad_image_without_a_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "serving.py").write_text("def predict(body):\n    return 'ok'\n")
    (project / "liminal.yml").write_text(
        "name: old_python\n"
        "images:\n"
        "  - image: myorg/old\n"
        "    type: python_server\n"
        "    source: .\n"
        "    python_version: '3.7'\n"
        "    endpoints:\n"
        "      - endpoint: /predict\n"
        "        module: serving\n"
        "        function: predict\n"
    )
    result = CliRunner().invoke(app, ["build", str(project), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "liminal.yml" in result.output and "too old" in result.output
    assert "Traceback" not in result.output
    unknown = CliRunner().invoke(app, ["build", str(IRIS), "--image", "nope/nope"])
    assert unknown.exit_code == 2 and "no image nope/nope" in unknown.output
