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
    .airflowignore                            keeps the DAG processor out of the two folders

Airflow parses every `.py` of the DAGs folder that mentions "airflow" and "dag" (safe mode) on
each parse cycle; this package's modules do, so without `.airflowignore` each would be imported
again as a DAG file. `airflowignore()` writes the file in the syntax the Airflow version reads
by default.
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
AIRFLOWIGNORE_NAME = ".airflowignore"
# DAGs-folder folders that hold no DAG file: this package and the liminal home.
NOT_DAG_FOLDERS = ("liminal_pulumi", defaults.LIMINAL_HOME_DIR)


def airflowignore(airflow_version: str, folders: tuple[str, ...] = NOT_DAG_FOLDERS) -> str:
    """The `.airflowignore` (at the DAGs folder's root) that skips `folders`, in the syntax
    `[core] dag_ignore_file_syntax` defaults to for `airflow_version` ("2.11.0", "3.0.6").

    regexp (Airflow 2): each line is searched in the path relative to the DAGs folder, so
    `^name(/|$)` matches the folder (pruned from the walk) and everything in it. glob (Airflow 3):
    gitignore rules, where `/name/` is the folder at the root only. Source: Airflow documentation,
    "Core concepts: DAGs", section ".airflowignore".

    :raises ValueError: an Airflow major version without a known default syntax.
    """
    major = airflow_version.partition(".")[0]
    syntax = defaults.DAG_IGNORE_FILE_SYNTAX_BY_AIRFLOW_MAJOR.get(major)
    if syntax is None:
        raise ValueError(f"no .airflowignore syntax known for Airflow {airflow_version}")
    for folder in folders:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", folder):
            raise ValueError(f"{folder!r} is not a folder name at the DAGs folder's root")
    if syntax == "regexp":
        lines = [f"^{re.escape(folder)}(/|$)" for folder in folders]
    else:
        lines = [f"/{folder}/" for folder in folders]
    return "\n".join(lines) + "\n"


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
