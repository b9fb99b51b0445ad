"""What goes into MWAA's DAGs folder (the AWS stack uploads it to the environment's bucket).

MWAA reaches no package index, so the DAGs folder carries the loader and the pure-Python part
of this package it imports; Airflow puts the DAGs folder on `sys.path`, so `import
liminal_pulumi...` finds it there. Projects go under `liminal/` (the loader's default liminal
home) with their compiled form, so Airflow never parses YAML on the hot path.

Layout (paths relative to the DAGs folder):
    liminal_dags.py                           the loader
    liminal_pulumi/<module>.py                every module the loader can import
    liminal/<project>/<...>/liminal.yml       each project's DSL files, as in the project
    liminal/<project>/liminal.compiled.json   the project's compiled form
    liminal_deployment.json                   deployment facts (written by the AWS stack)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from liminal_pulumi import defaults
from liminal_pulumi.compiled import compile_project
from liminal_pulumi.discovery import discover
from liminal_pulumi.model import Project

PACKAGE = "liminal_pulumi"
PACKAGE_DIR = Path(__file__).resolve().parent
LOADER = PACKAGE_DIR.parent / "dags" / "liminal_dags.py"
LOADER_NAME = "liminal_dags.py"


def _imported_modules(source: Path) -> set[str]:
    """The `liminal_pulumi` modules `source` imports anywhere (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                found.update(f"{PACKAGE}.{a.name}" for a in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module)
    return {m for m in found if (PACKAGE_DIR / f"{m.split('.', 1)[1]}.py").is_file()}


def loader_files() -> dict[str, Path]:
    """DAGs-folder-relative path -> local file, for the loader and every module it can import.

    Stable contract for the AWS stack: upload each file under its key into the DAGs folder.
    """
    if not LOADER.is_file():
        raise FileNotFoundError(f"the DAG loader is missing: {LOADER}")
    files = {LOADER_NAME: LOADER, f"{PACKAGE}/__init__.py": PACKAGE_DIR / "__init__.py"}
    pending = _imported_modules(LOADER)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = PACKAGE_DIR / f"{module.split('.', 1)[1]}.py"
        files[f"{PACKAGE}/{path.name}"] = path
        pending |= _imported_modules(path) - seen
    return dict(sorted(files.items()))


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
