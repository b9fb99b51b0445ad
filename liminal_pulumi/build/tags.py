"""Image tags from build contexts: a content hash, so an immutable tag never names two images.

They read the context's files, so they live here and not among the pure plans.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# Hex digits of the context digest kept in a tag: 80 bits, short enough to read in a listing.
TAG_LENGTH = 20


def context_digest(context: Path) -> str:
    """A sha256 (64 hex) of a build context's files: relative paths and contents, in order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context).as_posix()
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def image_tag_for(context: Path) -> str:
    """The tag an image built from `context` gets: the first 20 hex digits of its digest."""
    return context_digest(context)[:TAG_LENGTH]
