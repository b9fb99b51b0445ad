"""The liminal DAG loader: every pipeline of every liminal project under the liminal home.

A DAGs-folder file (MWAA's or a local Airflow's) calls `register(globals())`. The loader finds
the liminal home (environment variable LIMINAL_HOME, else Airflow's option
`[core] liminal_home`, else a `liminal/` folder beside the calling file), reads each project's
compiled form (written once when the project is deployed, see `liminal_pulumi.airflow.compiled`)
and builds one DAG per pipeline. A project without an up-to-date compiled form is validated from
its YAML here instead: slower, same result.

A broken liminal.yml registers none of its DAGs and shows in Airflow as an import error of the
DAGs-folder file naming the liminal.yml and its located errors; every other file's DAGs still
load. Parsing neither writes files nor reads the Airflow database.
"""

from __future__ import annotations

import gc
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowException

from liminal_pulumi import defaults
from liminal_pulumi.airflow import compiled
from liminal_pulumi.airflow.dag_builder import DAG, build_dag
from liminal_pulumi.airflow.dag_plan import plan_file
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.dsl.diagnostics import LiminalConfigError
from liminal_pulumi.dsl.discovery import discover, is_skipped_folder

__all__ = ["BrokenLiminalFiles", "LiminalFileError", "load_dags", "register"]


def liminal_home(dags_folder: Path) -> Path:
    home = os.environ.get(defaults.LIMINAL_HOME_ENV)
    if not home:
        from airflow.configuration import conf

        home = conf.get("core", "liminal_home", fallback=None)
    return Path(home) if home else dags_folder / defaults.LIMINAL_HOME_DIR


class LiminalFileError(AirflowException):
    """Some liminal.yml files could not be loaded (the message locates every error)."""


class BrokenLiminalFiles(DAG):
    """Stands for the liminal.yml files that could not be loaded.

    Airflow (2.11 and 3.0, `DagBag._process_modules`) validates each DAG of a DAG file before
    bagging it and records any exception as an import error of the file while keeping the file's
    other DAGs; this DAG always fails that validation with the located errors, so they show in
    Airflow's import errors.
    """

    def validate(self) -> None:  # type: ignore[override]
        raise LiminalFileError(self.description or "liminal: broken liminal.yml files")


def _units(home: Path) -> list[tuple[Path, dict | None]]:
    """The projects under home: (root, compiled data if current) in a stable order.

    A folder with a compiled form is one project. liminal.yml files outside those are grouped by
    their top-level folder under home; a file directly in home stands alone.
    """
    units: list[tuple[Path, dict | None]] = []
    compiled_roots: list[Path] = []
    for folder, subfolders, files in os.walk(home):
        subfolders[:] = sorted(d for d in subfolders if not is_skipped_folder(d, Path(folder)))
        if defaults.COMPILED_FILE_NAME in files:
            root = Path(folder)
            data = compiled.read_compiled(root / defaults.COMPILED_FILE_NAME)
            current = data is not None and compiled.is_current(data, root)
            units.append((root, data if current else None))
            compiled_roots.append(root)
            subfolders[:] = []  # the project's own tree
    loose: dict[Path, None] = {}
    try:
        found = discover(home) if home.is_dir() else []
    except LiminalConfigError:  # a home too big to walk: its compiled projects still load
        found = []
    for path in found:
        if any(path.is_relative_to(r) for r in compiled_roots):
            continue
        top = home / path.relative_to(home).parts[0]
        loose[top if top.is_dir() else path] = None
    units.extend((root, None) for root in loose)
    return units


def _load(root: Path, data: dict | None, errors: dict[str, list[str]]) -> list:
    """The model's sub files of one project; problems go to `errors` by liminal.yml path."""
    if data is not None:
        try:
            return list(compiled.project_from_compiled(data, root).files)
        except Exception as error:  # a damaged compiled form: validate the YAML instead
            errors.setdefault(str(root / defaults.COMPILED_FILE_NAME), []).append(str(error))
    from liminal_pulumi.dsl.loader import load_what_loads

    try:
        project, problems = load_what_loads(root)
    except Exception as error:
        errors.setdefault(str(root), []).append(f"{type(error).__name__}: {error}")
        return []
    for diagnostic in problems:
        errors.setdefault(str(diagnostic.file or root), []).append(str(diagnostic))
    return list(project.files)


def load_dags(dags_folder: Path) -> tuple[dict[str, DAG], dict[str, list[str]]]:
    """DAG id -> DAG for every loadable pipeline, and liminal.yml path -> its error messages.

    :param dags_folder: the folder of the DAGs-folder file; deployment facts
        (`liminal_deployment.json`) are read there, and the liminal home defaults to its
        `liminal/` subfolder.
    """
    facts = DeploymentFacts.read(dags_folder)
    dags: dict[str, DAG] = {}
    origin: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    home = liminal_home(dags_folder)
    if not home.is_dir():
        return dags, errors
    for root, data in _units(home):
        for file in _load(root, data, errors):
            source = str(file.path)
            try:
                built = [build_dag(plan) for plan in plan_file(file, facts, dags_folder)]
            except Exception as error:
                errors.setdefault(source, []).append(f"{type(error).__name__}: {error}")
                continue
            clashes = [d.dag_id for d in built if d.dag_id in dags]
            if clashes:
                for dag_id in clashes:
                    errors.setdefault(source, []).append(
                        f"pipeline {dag_id} is already defined in {origin[dag_id]}"
                    )
                continue
            for dag in built:
                dags[dag.dag_id] = dag
                origin[dag.dag_id] = source
    return dags, errors


def _error_report(errors: dict[str, list[str]]) -> str:
    lines = [f"liminal: {len(errors)} liminal.yml file(s) not loaded, their DAGs are missing:"]
    for source, messages in sorted(errors.items()):
        lines.append(f"{source}:")
        lines.extend(f"  {m}" for m in messages)
    return "\n".join(lines)


def register(namespace: MutableMapping[str, Any]) -> dict[str, DAG]:
    """Build every liminal DAG and put it into `namespace`, a DAGs-folder file's `globals()`.

    :param namespace: the module globals Airflow scans for DAGs; its `__file__` locates the DAGs
        folder. DAGs are added as `liminal_dag__<dag_id>` (never shadowing the module's own
        names), plus `liminal_broken_files` when some liminal.yml could not be loaded.
    :return: DAG id -> DAG, as registered.

    The cyclic garbage collector is paused while DAGs are built: building thousands of operators
    allocates millions of objects that all stay alive, and each allocation burst would trigger a
    full collection walking every one of them (and the rest of Airflow), which made the parse
    cost grow faster than the number of pipelines. It is back on, as it was, before this returns.
    """
    dags_folder = Path(namespace["__file__"]).resolve().parent
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        dags, errors = load_dags(dags_folder)
    finally:
        if was_enabled:
            gc.enable()
    namespace.update({f"liminal_dag__{dag_id}": dag for dag_id, dag in dags.items()})
    if errors:
        namespace["liminal_broken_files"] = BrokenLiminalFiles(
            dag_id="liminal_broken_files", description=_error_report(errors), schedule=None
        )
    return dags
