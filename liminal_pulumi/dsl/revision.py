"""The revision of a liminal project: a content hash of its liminal.yml files.

A stack exports it (`projectRevision`) and a stack promoting from it checks its own checkout
against it (`liminal_pulumi.plans.promotion.check_revision`). It reads files, so it lives here
and not among the pure plans.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from liminal_pulumi import defaults


def project_revision(root: Path) -> str:
    """A sha256 (64 hex) of the project's liminal.yml files (relative paths and contents),
    the same on every machine; files under hidden folders (`.liminal/`, `.git/`) are left out."""
    digest = hashlib.sha256()
    files = sorted(
        path
        for name in defaults.DSL_FILE_NAMES
        for path in root.rglob(name)
        if not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
