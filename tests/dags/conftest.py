"""Shared helpers for the DAG tests: a private AIRFLOW_HOME, DAGs folders, DagBag probes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Airflow reads its configuration once, at import: give this test session its own home before
# any test imports it, so nothing here touches a real Airflow home or another area's tests.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="liminal-dags-tests-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
PROBE = Path(__file__).resolve().parent / "dagbag_probe.py"
AIRFLOW3_PYTHON = REPO / ".venv" / "bin" / "python"
AIRFLOW2_PYTHON = REPO / ".venv-airflow2" / "bin" / "python"


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".liminal"))
    return target


def make_dags_folder(
    folder: Path,
    projects: list[Path],
    facts_json: str | None = None,
    airflow_version: str | None = None,
) -> Path:
    """A DAGs folder as the AWS stack uploads it: the loader bundle plus compiled projects, and
    the `.airflowignore` for `airflow_version` when one is given."""
    from liminal_pulumi.airflow.bundle import (
        AIRFLOWIGNORE_NAME,
        airflowignore,
        loader_files,
        project_files,
    )
    from liminal_pulumi.dsl.loader import load_project

    if airflow_version is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / AIRFLOWIGNORE_NAME).write_text(airflowignore(airflow_version))
    for relative, source in loader_files().items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / relative)
    for project_root in projects:
        for relative, content in project_files(load_project(project_root)).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(content)
    if facts_json is not None:
        from liminal_pulumi.airflow.deployment import FACTS_FILE_NAME

        (folder / FACTS_FILE_NAME).write_text(facts_json)
    return folder


def probe(python: Path, dags_folder: Path, airflow_home: Path, **env: str) -> dict:
    """Load `dags_folder` through a real DagBag in `python`'s Airflow, in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LIMINAL"))}
    clean.pop("PYTHONPATH", None)  # the DAGs folder alone must be enough (as on MWAA)
    clean.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        **env,
    )
    done = subprocess.run(
        [str(python), str(PROBE), str(dags_folder)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=airflow_home,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1][len("PROBE") :])


def liminal_run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`liminal run` as a user types it, in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    clean.update(env)
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "liminal"), "run", str(project), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
