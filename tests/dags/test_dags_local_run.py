"""`liminal run`: real Airflow on this machine, container tasks as local processes."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DATA, REPO, copy_project, liminal_run


def test_dags_local_run_trains_validates_and_promotes_iris(tmp_path: Path) -> None:
    project = copy_project(REPO / "examples" / "iris", tmp_path / "iris")
    done = liminal_run(project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    production = project / ".liminal" / "volumes" / "gettingstartedvol" / "production"
    (version,) = list(production.iterdir())
    metadata = json.loads((version / "metadata.json").read_text())
    assert metadata["version"] == version.name
    assert metadata["accuracy"] >= 0.9
    model = pickle.loads((version / "model.pkl").read_bytes())
    assert model.predict_proba([[2.1]])[0][1] > 0.5 > model.predict_proba([[0.2]])[0][1]
    # progress and the tasks' own output reach the terminal; Airflow's noise does not
    assert "train" in done.stdout and "promoted" in done.stdout
    assert "success" in done.stdout
    assert "DAG TEST" not in done.stdout + done.stderr
    assert (project / ".liminal" / "airflow" / "liminal-run.log").stat().st_size > 0


def test_dags_run_time_placeholders_resolve_in_order(tmp_path: Path) -> None:
    project = copy_project(DATA / "vars", tmp_path / "vars")
    done = liminal_run(
        project,
        "--conf",
        json.dumps({"LIMTEST_A": "from-conf"}),
        AIRFLOW_VAR_LIMTEST_A="from-airflow",
        AIRFLOW_VAR_LIMTEST_B="from-airflow",
        AIRFLOW_VAR_LIMTEST_C="from-airflow",
        LIMTEST_A="from-env",
        LIMTEST_C="from-env",
        LIMTEST_D="from-env",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [ln for ln in done.stdout.splitlines() if "A=" in ln and "show |" in ln]
    scratch = project / ".liminal" / "volumes" / "scratch"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expected = (
        "A=from-conf B=from-file T=from-task C=from-airflow D=from-env E={{ LIMTEST_E }} "
        f"DS={today} OUT={scratch}/out"
    )
    assert line.split("| ", 1)[1] == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_endpoint() -> str:
    port = _free_port()
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_dags_failed_task_fails_run_and_job_metrics_reach_cloudwatch(
    tmp_path: Path, moto_endpoint: str
) -> None:
    import boto3

    aws = {
        "AWS_ENDPOINT_URL_CLOUDWATCH": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    project = copy_project(DATA / "metrics", tmp_path / "metrics")
    done = liminal_run(project, **aws)
    assert done.returncode == 1, done.stdout[-3000:]
    out = done.stdout
    assert "task broken failed" in out
    assert (
        out.index("boom detail line")
        < out.index("task broken failed")
        < out.rindex("boom detail line")
    )  # streamed while running, and again in the failure's log tail
    assert "after ran" in out  # always_run: later tasks still ran
    assert "failed tasks: broken" in out  # job_end's verdict

    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    now = dt.datetime.now(dt.UTC)
    values = {}
    for name in ("JobStarted", "JobResult", "JobDuration"):
        stats = cloudwatch.get_metric_statistics(
            Namespace="LiminalTest",
            MetricName=name,
            Dimensions=[{"Name": "ApplicationName", "Value": "metrics_pipeline"}],
            StartTime=now - dt.timedelta(hours=1),
            EndTime=now + dt.timedelta(hours=1),
            Period=3600,
            Statistics=["Maximum"],
        )
        (point,) = stats["Datapoints"]
        values[name] = point["Maximum"]
    assert values["JobStarted"] == 1.0
    assert values["JobResult"] == 0.0
    assert values["JobDuration"] > 0


def test_dags_local_run_user_mistakes_exit_2_without_traceback(tmp_path: Path) -> None:
    project = copy_project(DATA / "vars", tmp_path / "vars")
    for args in (["--pipeline", "nope"], ["--conf", "{not json"], ["--conf", "[1]"]):
        done = liminal_run(project, *args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stdout + done.stderr
    assert "vars_pipeline" in liminal_run(project, "--pipeline", "nope").stderr


def test_dags_local_run_skips_a_broken_file_and_runs_its_neighbours(tmp_path: Path) -> None:
    folder = tmp_path / "several"
    copy_project(DATA / "vars", folder / "vars")
    broken = folder / "broken" / "liminal.yml"
    broken.parent.mkdir()
    broken.write_text("name: broken_app\npipelines:\n  - pipeline: never\n    tasks: [\n")
    done = liminal_run(folder)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{broken}:" in done.stderr  # located: file, line and column
    assert "vars_pipeline: success" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_dags_local_run_leaves_no_process_behind(tmp_path: Path) -> None:
    """A task that starts a background child ends with its main process, as a pod would; the
    child neither outlives the run nor holds the task's output open."""
    marker = f"sleep 3{time.time_ns() % 100000:05d}"  # a command line no other process has
    project = tmp_path / "orphans"
    project.mkdir()
    (project / "liminal.yml").write_text(
        "name: orphans\n"
        "images:\n"
        "  - image: o/img\n"
        "    type: python\n"
        "    source: .\n"
        "pipelines:\n"
        "  - pipeline: orphan_pipeline\n"
        "    start_date: 2024-01-01\n"
        "    timeout_minutes: 5\n"
        "    tasks:\n"
        "      - task: spawn\n"
        "        type: python\n"
        "        image: o/img\n"
        f"        cmd: ({marker} &) ; echo spawned\n"
        "      - task: after\n"
        "        type: python\n"
        "        image: o/img\n"
        "        cmd: echo after ran\n"
    )
    started = time.monotonic()
    done = liminal_run(project)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "after ran" in done.stdout
    assert took < 120, took  # not the background child's 30,000+ seconds, nor the timeout
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout == "", left.stdout
