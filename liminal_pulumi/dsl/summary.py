"""What `liminal validate` says about a project that loaded: counts and names, text or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from liminal_pulumi.dsl.diagnostics import Diagnostic, LiminalConfigError
from liminal_pulumi.dsl.model import Project


def summarize(project: Project) -> dict[str, Any]:
    pipelines = list(project.pipelines())
    return {
        "root": str(project.root),
        "files": [str(f.path) for f in project.files],
        "pipelines": {p.pipeline: [t.task for t in p.tasks] for _, p in pipelines},
        "images": sorted(project.images()),
        "services": [s.service for _, s in project.services()],
        "counts": {
            "files": len(project.files),
            "pipelines": len(pipelines),
            "tasks": sum(len(p.tasks) for _, p in pipelines),
            "images": len(project.images()),
            "services": len(list(project.services())),
        },
    }


def summary_text(project: Project, warnings: Sequence[Diagnostic]) -> str:
    facts = summarize(project)
    counts = facts["counts"]
    lines = [
        f"OK: {counts['files']} file(s), {counts['pipelines']} pipeline(s), "
        f"{counts['tasks']} task(s), {counts['images']} image(s), {counts['services']} service(s)"
    ]
    for name, tasks in facts["pipelines"].items():
        lines.append(f"  pipeline {name}: {' -> '.join(tasks)}")
    for service in facts["services"]:
        lines.append(f"  service {service}")
    lines.extend(str(w) for w in warnings)
    return "\n".join(lines)


def result_json(project: Project | None, diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    return {
        "ok": project is not None,
        "summary": summarize(project) if project is not None else None,
        "diagnostics": [d.to_json() for d in diagnostics],
    }


def error_text(error: LiminalConfigError) -> str:
    lines = [str(d) for d in error.diagnostics]
    lines.append(f"{len(error.errors)} error(s), {len(error.warnings)} warning(s)")
    return "\n".join(lines)
