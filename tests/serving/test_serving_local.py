"""`liminal serve`: which service, the local volume folders in place of cluster mount paths, the
same server command as the container, user mistakes as located errors, and a real run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from serving_helpers import (
    IRIS,
    Server,
    free_port,
    post_json,
    publish_model,
    train_model,
    wait_until_up,
)
from typer.testing import CliRunner

from liminal_pulumi.cli import app
from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import (
    LiminalFile,
    Mount,
    Project,
    PythonImage,
    PythonServerImage,
    Service,
    Volume,
)
from liminal_pulumi.local.serve import ServeError, plan_local_serve
from liminal_pulumi.serving.settings import parse_arguments


def project_of(
    root: Path, services: tuple[Service, ...], volumes: tuple[Volume, ...] = ()
) -> Project:
    images = (
        PythonServerImage(image="srv", source=root),
        PythonImage(image="batch", source=root),
    )
    return Project(
        root=root,
        files=(
            LiminalFile(
                name="p",
                path=root / "liminal.yml",
                images=images,
                services=services,
                volumes=volumes,
                pipelines=(),
            ),
        ),
    )


def test_iris_plan_points_the_mount_path_at_the_local_volume() -> None:
    project = load_project(IRIS)
    plan = plan_local_serve(project, port=18080)
    volume = project.volumes()["gettingstartedvol-pvc"]
    assert volume.local_path is not None
    assert plan.environment["MOUNT_PATH"] == str(volume.local_path)
    assert plan.environment["LIMINAL_MOUNT_GETTINGSTARTEDVOL_PVC"] == str(volume.local_path)
    assert plan.cwd == IRIS
    assert plan.argv[:3] == (sys.executable, "-m", "liminal_pulumi.serving")
    settings = parse_arguments(plan.argv[3:])
    assert (settings.host, settings.port) == ("127.0.0.1", 18080)
    assert settings.app_dir == IRIS
    assert settings.workers == plan.service.workers
    assert plan.url == "http://127.0.0.1:18080"


def test_volume_without_local_path_and_sub_path(tmp_path: Path) -> None:
    service = Service(
        service="s",
        image="srv",
        env_vars={"MODELS": "/mnt/store/models", "OTHER": "/mnt/storefront", "PLAIN": "x"},
        mounts=(Mount(volume="store", path="/mnt/store", sub_path="team"),),
    )
    plan = plan_local_serve(project_of(tmp_path, (service,), (Volume(volume="store"),)))
    folder = tmp_path / ".liminal" / "volumes" / "store" / "team"
    assert plan.environment["MODELS"] == f"{folder}/models"
    assert plan.environment["OTHER"] == "/mnt/storefront"  # another path that merely starts alike
    assert plan.environment["PLAIN"] == "x"


def test_service_choice_and_its_mistakes(tmp_path: Path) -> None:
    one, two = Service(service="one", image="srv"), Service(service="two", image="srv")
    assert plan_local_serve(project_of(tmp_path, (one, two)), "two").service == two
    with pytest.raises(ServeError, match="2 services .*one, two.*--service"):
        plan_local_serve(project_of(tmp_path, (one, two)))
    with pytest.raises(ServeError, match="no service 'three'"):
        plan_local_serve(project_of(tmp_path, (one, two)), "three")
    with pytest.raises(ServeError, match="defines no services"):
        plan_local_serve(project_of(tmp_path, ()))
    batch = Service(service="batch_service", image="batch")
    with pytest.raises(ServeError, match="of type python; only a python_server image"):
        plan_local_serve(project_of(tmp_path, (batch,)))


def test_cli_mistakes_exit_2_without_traceback(tmp_path: Path) -> None:
    unknown = CliRunner().invoke(app, ["serve", str(IRIS), "--service", "nope"])
    assert unknown.exit_code == 2
    assert "no service 'nope'" in unknown.output and "Traceback" not in unknown.output
    (tmp_path / "liminal.yml").write_text("name: broken\nservices: [{service: s}]\n")
    broken = CliRunner().invoke(app, ["serve", str(tmp_path)])
    assert broken.exit_code == 2
    assert "liminal.yml" in broken.output and "Traceback" not in broken.output


def test_liminal_serve_answers_predict_from_the_local_store(tmp_path: Path) -> None:
    project = tmp_path / "iris"
    project.mkdir()
    for name in ("liminal.yml", "serving.py", "model_store.py"):
        shutil.copy(IRIS / name, project / name)
    store = project / ".liminal" / "volumes" / "gettingstartedvol"
    version = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    model = train_model()
    publish_model(store, version, model)
    port = free_port()
    liminal = Path(sys.executable).with_name("liminal")
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [str(liminal), "serve", str(project), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOUNT_PATH": "/somewhere/else"},  # the service's env wins
        )
    server = Server(process, port, log_file)
    try:
        wait_until_up(server)
        reply = post_json(port, "/predict", {"petal_width": "2.1"})
        assert reply.status == 200, server.log()
        document = reply.json()
        assert document == {
            "result": str(model.predict_proba([[2.1]])[0][1]),  # type: ignore[attr-defined]
            "version": version,
        }
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "Shutting down" in server.log()
