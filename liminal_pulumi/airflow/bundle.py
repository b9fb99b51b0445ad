"""What goes into MWAA's DAGs folder (the AWS stack uploads it to the environment's bucket).

MWAA reaches no package index, so the DAGs folder carries the loader and the pure-Python part
of this package it imports; Airflow puts the DAGs folder on `sys.path`, so `import
liminal_pulumi...` finds it there. Projects go under `liminal/` (the loader's default liminal
home) with their compiled form, so Airflow never parses YAML on the hot path.

Layout (paths relative to the DAGs folder):
    liminal_dags.py                           the DAGs-folder file (calls the loader)
    liminal_pulumi/<...>.py                   every module the loader can import
    liminal/<project>/<...>/liminal.yml       each project's DSL files, as in the project
    liminal/<project>/liminal.compiled.json   the project's compiled form
    liminal_deployment.json                   deployment facts (written by the AWS stack)
"""

from __future__ import annotations

import re
from pathlib import Path

from liminal_pulumi import defaults
from liminal_pulumi.airflow.compiled import compile_project
from liminal_pulumi.dsl.discovery import discover
from liminal_pulumi.dsl.model import Project
from liminal_pulumi.modules import module_closure

LOADER = Path(__file__).resolve().parent / "dag_file" / "liminal_dags.py"
LOADER_NAME = "liminal_dags.py"
LOADER_MODULE = "liminal_pulumi.airflow.loader"


def loader_files() -> dict[str, Path]:
    """DAGs-folder-relative path -> local file, for the DAGs-folder file and every module of
    this package the loader can import (nothing of the server, the CLI or the components).

    Stable contract for the AWS stack: upload each file under its key into the DAGs folder.
    """
    return {LOADER_NAME: LOADER, **module_closure([LOADER_MODULE])}


def project_folder_name(project: Project) -> str:
    """The project's folder under the liminal home: its root folder's name, made path-safe."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", project.root.name) or "project"


def project_files(project: Project) -> dict[str, bytes]:
    """DAGs-folder-relative path -> content, for a validated project: its liminal.yml files and
    its compiled form, under `liminal/<project folder name>/`.

    Stable contract for the AWS stack: upload each entry under its key into the DAGs folder.
    """
    prefix = f"{defaults.LIMINAL_HOME_DIR}/{project_folder_name(project)}"
    files = {
        f"{prefix}/{path.relative_to(project.root).as_posix()}": path.read_bytes()
        for path in discover(project.root)
    }
    files[f"{prefix}/{defaults.COMPILED_FILE_NAME}"] = compile_project(project).encode()
    return files
