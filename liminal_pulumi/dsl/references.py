"""Checks across keys: names that must exist, be unique, or fit together.

They run on normalized files (before the model exists), so a file with a type error still gets
its reference errors reported in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl.diagnostics import Location, Reporter, suggest
from liminal_pulumi.dsl.normalize import describe
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap


def _entries(data: YamlMap, key: str) -> Iterable[tuple[YamlMap, Location]]:
    values = data.get(key)
    if isinstance(values, YamlList):
        for index, item in enumerate(values):
            if isinstance(item, YamlMap):
                yield item, values.item_loc(index)


def _names(data: YamlMap, section: str, key: str) -> dict[str, YamlMap]:
    return {e[key]: e for e, _ in _entries(data, section) if isinstance(e.get(key), str)}


def check_duplicates(
    entries: Iterable[tuple[YamlMap, Location]], key: str, what: str, reporter: Reporter
) -> None:
    seen: dict[str, Location] = {}
    for entry, where in entries:
        name = entry.get(key)
        if not isinstance(name, str):
            continue
        at = entry.value_loc(key) if key in entry.value_locs else where
        if name in seen:
            first = seen[name]
            place = f"{first.file}:{first.line}" if first.file else "the built-in base"
            reporter.error(at, f"duplicate {what} `{name}` (also declared at {place})")
        else:
            seen[name] = at


def check_raw_sections(raw: YamlMap, reporter: Reporter) -> None:
    """The keyed sections of one file as written: lists, without duplicates (merging would
    otherwise fold them silently). A section that is not a list is reported and dropped, so
    that its parents' entries still apply and the mistake is not reported again downstream."""
    for section, key in (
        ("images", "image"),
        ("executors", "executor"),
        ("volumes", "volume"),
        ("secrets", "secret"),
    ):
        value = raw.get(section)
        if value is not None and not isinstance(value, list):
            reporter.error(
                raw.value_loc(section),
                f"`{section}` must be a list of entries (`- {key}: ...`), got {describe(value)}",
            )
            del raw[section]
            continue
        check_duplicates(_entries(raw, section), key, section[:-1], reporter)


def check_file(data: YamlMap, reporter: Reporter) -> None:
    """References inside one normalized file."""
    executors = _names(data, "executors", "executor")
    images = _names(data, "images", "image")
    volumes = _names(data, "volumes", "volume")
    secrets = _names(data, "secrets", "secret")
    check_duplicates(_entries(data, "services"), "service", "service", reporter)
    check_duplicates(_entries(data, "pipelines"), "pipeline", "pipeline", reporter)
    for pipeline, _ in _entries(data, "pipelines"):
        check_duplicates(_entries(pipeline, "tasks"), "task", "task", reporter)
        for task, where in _entries(pipeline, "tasks"):
            _check_task(task, where, executors, images, volumes, secrets, reporter)
    for service, where in _entries(data, "services"):
        _check_reference(service, "image", images, "image", reporter, where)
        for mount, mount_where in _entries(service, "mounts"):
            _check_reference(mount, "volume", volumes, "volume", reporter, mount_where)
        _check_monitoring(service, images, reporter, where)


def _check_monitoring(
    service: YamlMap, images: Mapping[str, YamlMap], reporter: Reporter, where: Location
) -> None:
    """A monitored service's logged endpoints exist on its image; a drift image is declared."""
    monitoring = service.get("monitoring")
    if not isinstance(monitoring, YamlMap):
        return
    drift = monitoring.get("drift")
    if isinstance(drift, YamlMap) and drift.get("image") is not None:
        _check_reference(drift, "image", images, "image", reporter, where)
    tag = service.get("image")
    image = images.get(tag) if isinstance(tag, str) else None
    logged = monitoring.get("endpoints")
    if image is None or not isinstance(logged, YamlList):
        return
    declared = {
        e.get("endpoint") for e, _ in _entries(image, "endpoints") if isinstance(e, YamlMap)
    }
    for index, endpoint in enumerate(logged):
        if isinstance(endpoint, str) and endpoint not in declared:
            reporter.error(
                logged.item_loc(index),
                f"`monitoring.endpoints`: image `{image.get('image')}` has no endpoint "
                f"`{endpoint}` (declared: {', '.join(sorted(map(str, declared))) or 'none'})",
                suggestion=suggest(endpoint, [str(d) for d in declared]),
            )


def _check_task(
    task: YamlMap,
    where: Location,
    executors: Mapping[str, YamlMap],
    images: Mapping[str, YamlMap],
    volumes: Mapping[str, YamlMap],
    secrets: Mapping[str, YamlMap],
    reporter: Reporter,
) -> None:
    kind = task.get("type")
    if _check_reference(task, "executor", executors, "executor", reporter, where):
        executor_type = executors[task["executor"]].get("type")
        runnable = defaults.RUNNABLE_TASK_TYPES.get(str(executor_type), frozenset())
        if isinstance(kind, str) and kind not in runnable:
            able = sorted(
                name
                for name, e in executors.items()
                if kind in defaults.RUNNABLE_TASK_TYPES.get(str(e.get("type")), ())
            )
            hint = f"; executors that can: {', '.join(able)}" if able else ""
            reporter.error(
                task.value_loc("executor"),
                f"a {kind} task cannot run on executor `{task['executor']}` "
                f"(type {executor_type}){hint}",
            )
    if "image" in task:
        _check_reference(task, "image", images, "image", reporter, where)
    for mount, mount_where in _entries(task, "mounts"):
        _check_reference(mount, "volume", volumes, "volume", reporter, mount_where)
    for mount, mount_where in _entries(task, "secrets"):
        _check_reference(mount, "secret", secrets, "secret", reporter, mount_where)


def _check_reference(
    entry: YamlMap,
    key: str,
    known: Mapping[str, Any],
    what: str,
    reporter: Reporter,
    where: Location,
) -> bool:
    name = entry.get(key)
    if not isinstance(name, str):
        return False
    if name in known:
        return True
    listed = ", ".join(sorted(known)) or "none"
    reporter.error(
        entry.value_loc(key) if key in entry.value_locs else where.child(key),
        f"unknown {what} `{name}` (declared: {listed})",
        suggestion=suggest(name, known),
    )
    return False


def check_project(files: list[tuple[Path, YamlMap]], reporter: Reporter) -> None:
    """Names that must be unique across the whole project, and images that must agree."""
    pipelines = [e for _, data in files for e in _entries(data, "pipelines")]
    services = [e for _, data in files for e in _entries(data, "services")]
    _check_across(pipelines, "pipeline", "pipeline", reporter)
    _check_across(services, "service", "service", reporter)
    _check_drift_pipeline_names(pipelines, services, reporter)
    images: dict[str, tuple[Path, Any]] = {}
    for path, data in files:
        for image, where in _entries(data, "images"):
            tag = image.get("image")
            if not isinstance(tag, str):
                continue
            body = {k: v for k, v in image.items()}
            if tag in images and images[tag][1] != body and images[tag][0] != path:
                reporter.error(
                    image.value_loc("image") if "image" in image.value_locs else where,
                    f"image `{tag}` is declared differently in {images[tag][0]}; "
                    "an image tag names one image across the project",
                )
            images.setdefault(tag, (path, body))


def _check_across(
    entries: list[tuple[YamlMap, Location]], key: str, what: str, reporter: Reporter
) -> None:
    """Duplicates across files; duplicates inside one file are reported by `check_file`."""
    seen: dict[str, Location] = {}
    for entry, where in entries:
        name = entry.get(key)
        if not isinstance(name, str):
            continue
        at = entry.value_loc(key) if key in entry.value_locs else where
        first = seen.get(name)
        if first is None:
            seen[name] = at
        elif first.file != at.file:
            reporter.error(
                at, f"duplicate {what} `{name}`: also declared in {first.file}:{first.line}"
            )


def _check_drift_pipeline_names(
    pipelines: list[tuple[YamlMap, Location]],
    services: list[tuple[YamlMap, Location]],
    reporter: Reporter,
) -> None:
    """A drift check becomes the DAG `<service>_drift`: no pipeline may already be called so."""
    names = {p.get("pipeline"): p for p, _ in pipelines if isinstance(p.get("pipeline"), str)}
    for service, _ in services:
        monitoring = service.get("monitoring")
        if not isinstance(monitoring, YamlMap) or not isinstance(monitoring.get("drift"), YamlMap):
            continue
        dag_id = f"{service.get('service')}{defaults.DRIFT_PIPELINE_SUFFIX}"
        clash = names.get(dag_id)
        if clash is not None:
            at = clash.value_loc("pipeline")
            reporter.error(
                monitoring.key_loc("drift"),
                f"the drift check of service `{service.get('service')}` is the DAG `{dag_id}`, "
                f"but a pipeline has that name ({at.file}:{at.line}); rename the pipeline",
            )
