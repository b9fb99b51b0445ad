"""The iris model store: versions written atomically, and only complete versions read back.

Layout, under the store's root (the volume at `$MOUNT_PATH`):

    candidate/<version>/{model.pkl, metadata.json}    written by `training.py train`
    production/<version>/{model.pkl, metadata.json}   promoted by `training.py validate`

A version is published in one `rename(2)` of a staging folder that already holds every file,
each flushed to disk (`fsync`) first; the folders are flushed too, so after a crash or power loss a
version is either complete or absent. A process killed while it writes leaves only its staging
folder, `.<version>.tmp-<pid>`, which readers never count as a version (its name starts with a
dot) and the next publish in that folder removes once it is stale.

This module is plain Python (no liminal import): the pipeline's tasks and the model server both
run it from the image's own source folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
# A staging folder older than this is left over by a killed writer (a publish takes well under a
# second); younger ones may belong to a writer still at work and are left alone.
STALE_STAGING_SECONDS = 3600


def _fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk (a folder: the names in it)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def is_version_name(name: str) -> bool:
    """A published version's folder name: not hidden (staging) and not a temporary file."""
    return bool(name) and not name.startswith(".") and not name.endswith((".tmp", ".partial"))


def publish(folder: Path, files: Mapping[str, bytes]) -> Path:
    """Write `files` as the folder `folder`, atomically; returns `folder`.

    Raises FileExistsError when `folder` already exists (a version is never rewritten in place:
    readers may be reading it) and OSError for I/O errors; nothing partial is left under the
    version's name either way.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(parent)
    staging = parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, content in files.items():
            with open(staging / name, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
        _fsync_path(staging)
        if folder.exists():
            raise FileExistsError(f"{folder} already exists")
        # rename(2) of a folder is atomic on POSIX file systems, EFS (NFSv4.1) included
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_path(parent)
    return folder


def remove_stale_staging(parent: Path, older_than: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove staging folders left by killed writers in `parent`; returns those removed."""
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            if entry.name.startswith(".") and ".tmp" in entry.name:
                with contextlib.suppress(OSError):
                    if now - entry.lstat().st_mtime > older_than:
                        shutil.rmtree(entry)
                        removed.append(entry)
    return removed


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Version names sort as numbers where they are numbers: 10 after 9."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def versions(folder: Path) -> list[Path]:
    """The complete versions under `folder`, newest first; [] when the folder does not exist.

    A version counts when its name is a version name and it holds a regular `model.pkl`.
    """
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    found = [e for e in entries if is_version_name(e.name) and (e / MODEL_FILE).is_file()]
    return sorted(found, key=lambda e: natural_key(e.name), reverse=True)


def newest(folder: Path) -> Path | None:
    return next(iter(versions(folder)), None)
