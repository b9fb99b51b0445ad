"""The compiled form of a project: its validated model as JSON, written once when it is deployed.

Airflow re-parses DAG files every few seconds to minutes; parsing and validating YAML on each
parse costs more than building the DAGs. So the project is validated once (`compile_project`)
and the loader reads this JSON instead. The file records the SHA-256 of every liminal.yml it was
compiled from: when any of them changed, was added or removed, the loader ignores the compiled
form and validates the YAML itself (slower, still correct).

Reading (`read_compiled`, `is_current`) needs only the standard library; turning the data back
into the model (`project_from_compiled`) imports pydantic, which Airflow ships.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl.discovery import discover

if TYPE_CHECKING:
    from liminal_pulumi.dsl.model import Project

FORMAT_VERSION = 1
# Path fields inside a file's lists (`model.LiminalFile`): stored relative to the project root
# so the compiled form can move (to MWAA's DAGs folder); `root` and each file's `path` too.
_PATH_FIELDS = (("images", "source"), ("volumes", "local_path"), ("secrets", "local_path_file"))


def source_hashes(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every liminal.yml under `root`."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in discover(root)
    }


def _relocate(data: dict[str, Any], old_root: str, new_root: str) -> dict[str, Any]:
    """The model dump with its path fields under `old_root` moved under `new_root`.

    Only the model's path fields are visited (a full walk costs more than the rest of a load).
    """

    def move(item: dict[str, Any], key: str) -> None:
        value = item.get(key)
        if isinstance(value, str) and _is_under(value, old_root):
            item[key] = new_root + value[len(old_root) :]

    data = dict(data)
    move(data, "root")
    files = []
    for file in data.get("files", []):
        file = dict(file)
        move(file, "path")
        for group, key in _PATH_FIELDS:
            entries = []
            for entry in file.get(group, []):
                entry = dict(entry)
                move(entry, key)
                entries.append(entry)
            file[group] = entries
        files.append(file)
    data["files"] = files
    return data


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def compile_project(project: Project) -> str:
    """The compiled JSON of a validated project (write it as `defaults.COMPILED_FILE_NAME`)."""
    root = project.root.as_posix()
    data = _relocate(project.model_dump(mode="json", by_alias=True), root, ".")
    return json.dumps(
        {
            "format": FORMAT_VERSION,
            "sources": source_hashes(project.root),
            "project": data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def read_compiled(path: Path) -> dict[str, Any] | None:
    """The compiled data at `path`, or None when it is missing, unreadable or of another format."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        return None
    return data


def is_current(data: dict[str, Any], root: Path) -> bool:
    """True when the liminal.yml files under `root` are exactly those the data was compiled from."""
    try:
        return data.get("sources") == source_hashes(root)
    except Exception:  # unreadable or unbounded tree: validate the YAML instead
        return False


def project_from_compiled(data: dict[str, Any], root: Path) -> Project:
    """The model held in compiled data, with its paths under `root` (where the file now lies)."""
    from liminal_pulumi.dsl.model import Project

    return Project.model_validate(_relocate(data["project"], ".", root.as_posix()))


def compiled_path(root: Path) -> Path:
    return root / defaults.COMPILED_FILE_NAME
