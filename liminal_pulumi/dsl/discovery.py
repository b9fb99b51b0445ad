"""Finding the liminal.yml files of a project, reading only inside it.

A project is a folder tree; discovery walks it without following symbolic links to folders (no
loops, never outside the tree), skips hidden folders (`.git`, `.venv`, `.liminal`...), folders of
environments and build output (a folder holding `liminal build`'s context marker is a copy of
the project, not part of it), and visits at most `defaults.MAX_DISCOVERY_FOLDERS` folders: a
project named by mistake at `/` or a home folder is a located error, not a walk of the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from liminal_pulumi import defaults
from liminal_pulumi.dsl.diagnostics import Diagnostic, LiminalConfigError

# Folders that never hold a user's DSL files but can be huge (environments, VCS, build output).
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
# Written by `liminal build` into each build context (liminal_pulumi/build/images.py): the
# context holds copies of the project's files, which are never part of a project.
BUILD_CONTEXT_MARKER = ".liminal-build-context"


def safe_resolve(path: Path) -> Path:
    """`path` made absolute with symbolic links resolved; a link loop stays as written (it is
    reported when the file is read) instead of raising."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return Path(os.path.abspath(path))


def project_root(path: Path) -> Path:
    """The folder a project is discovered in: the folder itself, or a single file's folder."""
    path = safe_resolve(path)
    return path if path.is_dir() else path.parent


def is_skipped_folder(name: str, folder: Path) -> bool:
    """True for folders that are never part of a project (see the module's docstring)."""
    if name.startswith(".") or name in _SKIPPED_FOLDERS:
        return True
    return (folder / name / BUILD_CONTEXT_MARKER).exists()


class TooManyFolders(LiminalConfigError):
    """Discovery stopped at `defaults.MAX_DISCOVERY_FOLDERS` folders."""


def discover(path: Path, max_folders: int = defaults.MAX_DISCOVERY_FOLDERS) -> list[Path]:
    """Every `liminal.yml` / `liminal.yaml` under `path` (or `path` itself if it is not a
    folder: a FIFO or a device named by the user is reported when read, never walked).

    The order is stable (sorted). Raises `TooManyFolders` (a `LiminalConfigError`) after
    visiting `max_folders` folders.
    """
    path = safe_resolve(path)
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for visited, (folder, subfolders, files) in enumerate(os.walk(path), start=1):
        if visited > max_folders:
            raise TooManyFolders(
                [
                    Diagnostic(
                        f"more than {max_folders:,} folders under {path}: is this the project's "
                        "folder? Name the folder of its liminal.yml files",
                        file=path,
                    )
                ]
            )
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not is_skipped_folder(d, here))
        found.extend(here / f for f in sorted(files) if f in defaults.DSL_FILE_NAMES)
    return sorted(found)
