"""What `liminal validate` says about a project that loaded: counts and names, text or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from liminal_pulumi.dsl.diagnostics import Diagnostic, LiminalConfigError
from liminal_pulumi.dsl.model import Project


def summarize(project: Project, files_read: Sequence[Path] = ()) -> dict[str, Any]:
    """Counts and names; `files_read` (every liminal.yml read, parents too) when known."""
    pipelines = list(project.pipelines())
    read = [str(p) for p in files_read] or [str(f.path) for f in project.files]
    return {
        "root": str(project.root),
        "files": [str(f.path) for f in project.files],
        "files_read": read,
        "pipelines": {p.pipeline: [t.task for t in p.tasks] for _, p in pipelines},
        "images": sorted(project.images()),
        "services": [s.service for _, s in project.services()],
        "counts": {
            "files": len(project.files),
            "files_read": len(read),
            "pipelines": len(pipelines),
            "tasks": sum(len(p.tasks) for _, p in pipelines),
            "images": len(project.images()),
            "services": len(list(project.services())),
        },
    }


def summary_text(
    project: Project, warnings: Sequence[Diagnostic], files_read: Sequence[Path] = ()
) -> str:
    facts = summarize(project, files_read)
    counts = facts["counts"]
    parents = counts["files_read"] - counts["files"]
    read = f"{counts['files']} file(s)" + (f" and {parents} parent file(s)" if parents else "")
    lines = [
        f"OK: {read}, {counts['pipelines']} pipeline(s), "
        f"{counts['tasks']} task(s), {counts['images']} image(s), {counts['services']} service(s)"
    ]
    for name, tasks in facts["pipelines"].items():
        lines.append(f"  pipeline {name}: {' -> '.join(tasks)}")
    for service in facts["services"]:
        lines.append(f"  service {service}")
    lines.extend(str(w) for w in warnings)
    return "\n".join(lines)


def result_json(
    project: Project | None, diagnostics: Sequence[Diagnostic], files_read: Sequence[Path] = ()
) -> dict[str, Any]:
    return {
        "ok": project is not None,
        "summary": summarize(project, files_read) if project is not None else None,
        "diagnostics": [d.to_json() for d in diagnostics],
    }


def error_text(error: LiminalConfigError) -> str:
    lines = [str(d) for d in error.diagnostics]
    lines.append(f"{len(error.errors)} error(s), {len(error.warnings)} warning(s)")
    return "\n".join(lines)
