"""Finding the liminal.yml files of a project."""

from __future__ import annotations

import os
from pathlib import Path

from liminal_pulumi import defaults

# Folders that never hold a user's DSL files but can be huge (environments, VCS, build output).
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})


def project_root(path: Path) -> Path:
    """The folder a project is discovered in: the folder itself, or a single file's folder."""
    path = path.resolve()
    return path.parent if path.is_file() else path


def discover(path: Path) -> list[Path]:
    """Every `liminal.yml` / `liminal.yaml` under `path` (or `path` itself if it is a file).

    Hidden folders (`.git`, `.venv`, `.liminal`...) are skipped; the order is stable (sorted).
    """
    path = path.resolve()
    if path.is_file():
        return [path]
    found: list[Path] = []
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(
            d for d in subfolders if not d.startswith(".") and d not in _SKIPPED_FOLDERS
        )
        found.extend(Path(folder, f) for f in sorted(files) if f in defaults.DSL_FILE_NAMES)
    return sorted(found)
