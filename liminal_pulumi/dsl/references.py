"""Checks across keys: names that must exist, be unique, or fit together.

They run on normalized files (before the model exists), so a file with a type error still gets
its reference errors reported in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl import airflow_rules, names
from liminal_pulumi.dsl.diagnostics import Location, Reporter, suggest
from liminal_pulumi.dsl.normalize import describe
from liminal_pulumi.dsl.placeholders import (
    RUN_TIME_TASK_FIELDS,
    is_airflow_name,
    placeholder_names,
)
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap

# Task types that become two Airflow tasks: `<task>` and `<task>_wait` (dag_plan).
_TASKS_WITH_SENSOR = frozenset(
    {"create_cloudformation_stack", "delete_cloudformation_stack", "spark"}
)


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
    check_names(data, reporter)
    check_placeholders(data, reporter)


def _name_at(entry: YamlMap, key: str, where: Location) -> Location:
    return entry.value_loc(key) if key in entry.value_locs else where.child(key)


def check_names(data: YamlMap, reporter: Reporter) -> None:
    """Every name that becomes an Airflow id, a folder, a Kubernetes or an AWS name follows
    that consumer's rules (`airflow_rules`, `names`), as written or after the deployment's
    transformation."""
    executors = _names(data, "executors", "executor")
    for pipeline, where in _entries(data, "pipelines"):
        name = pipeline.get("pipeline")
        if isinstance(name, str):
            at = _name_at(pipeline, "pipeline", where)
            problem = airflow_rules.key_problem(name) or names.path_component_problem(name)
            if problem:
                reporter.error(at, f"pipeline `{name}` is not a valid Airflow dag_id: {problem}")
        task_ids: dict[str, tuple[str, Location]] = {}
        for task, task_where in _entries(pipeline, "tasks"):
            _check_task_id(task, task_where, task_ids, executors, reporter)
        for task, _ in _entries(pipeline, "tasks"):
            for mount, mount_where in _entries(task, "mounts"):
                _check_mount(mount, mount_where, reporter)
    for service, where in _entries(data, "services"):
        name = service.get("service")
        if isinstance(name, str):
            problem = names.path_component_problem(name)
            if problem is None and names.k8s_name(name) == "service" and name != "service":
                problem = "nothing of it is usable in a Kubernetes name (letters or digits)"
            if problem:
                reporter.error(_name_at(service, "service", where), f"service `{name}`: {problem}")
        for mount, mount_where in _entries(service, "mounts"):
            _check_mount(mount, mount_where, reporter)
    for volume, where in _entries(data, "volumes"):
        name = volume.get("volume")
        if isinstance(name, str):
            problem = names.path_component_problem(name)
            if problem is None and volume.get("claim_name") is None:
                try:
                    names.dns_label(name)
                except ValueError:
                    problem = "nothing of it is usable in a Kubernetes name; set `claim_name`"
            if problem:
                reporter.error(_name_at(volume, "volume", where), f"volume `{name}`: {problem}")
        claim = volume.get("claim_name")
        if isinstance(claim, str):
            problem = names.dns_label_problem(claim)
            if problem:
                reporter.error(
                    _name_at(volume, "claim_name", where),
                    f"`claim_name` `{claim}` is not a PersistentVolumeClaim name: {problem}",
                )
    for secret, where in _entries(data, "secrets"):
        name = secret.get("secret")
        if isinstance(name, str):
            problem = names.path_component_problem(name) or names.dns_subdomain_problem(name)
            if problem:
                reporter.error(
                    _name_at(secret, "secret", where),
                    f"secret `{name}` is not a Kubernetes Secret name: {problem}",
                )
    for image, where in _entries(data, "images"):
        tag = image.get("image")
        if isinstance(tag, str) and "{{" not in tag:
            problem = names.image_problem(tag)
            if problem:
                reporter.error(_name_at(image, "image", where), f"image `{tag}`: {problem}")
    for executor, where in _entries(data, "executors"):
        namespace = executor.get("namespace")
        if isinstance(namespace, str):
            problem = names.dns_label_problem(namespace)
            if problem:
                reporter.error(
                    _name_at(executor, "namespace", where),
                    f"namespace `{namespace}` is not a Kubernetes namespace name: {problem}",
                )


def _check_task_id(
    task: YamlMap,
    where: Location,
    seen: dict[str, tuple[str, Location]],
    executors: Mapping[str, YamlMap],
    reporter: Reporter,
) -> None:
    """A task's Airflow task ids (its own, and `<task>_wait` for tasks that wait for an EMR
    step or a CloudFormation stack): valid, and no other task's."""
    name = task.get("task")
    if not isinstance(name, str):
        return
    at = _name_at(task, "task", where)
    problem = airflow_rules.key_problem(name)
    if problem:
        reporter.error(at, f"task `{name}` is not a valid Airflow task_id: {problem}")
        return
    kind = task.get("type")
    executor_name = task.get("executor")
    executor = executors.get(executor_name) if isinstance(executor_name, str) else None
    ids = [name]
    if kind in _TASKS_WITH_SENSOR and (
        kind != "spark" or (executor is not None and executor.get("type") == "emr")
    ):
        ids.append(name + defaults.SENSOR_TASK_SUFFIX)
        if len(ids[1]) > airflow_rules.MAX_KEY_LENGTH:
            reporter.error(
                at,
                f"task `{name}` also becomes the Airflow task `{ids[1]}` (it waits for the "
                f"first), longer than Airflow's {airflow_rules.MAX_KEY_LENGTH} characters",
            )
    for task_id in ids:
        first = seen.get(task_id)
        if first is None:
            seen[task_id] = (name, at)
        elif first[0] != name:  # the same name twice is reported as a duplicate task
            reporter.error(
                at,
                f"tasks `{name}` and `{first[0]}` (line {first[1].line}) both become the Airflow "
                f"task `{task_id}` (a task that waits for an EMR step or a CloudFormation stack "
                f"adds `<task>{defaults.SENSOR_TASK_SUFFIX}`); rename one",
            )


def _check_mount(mount: YamlMap, where: Location, reporter: Reporter) -> None:
    sub_path = mount.get("sub_path")
    if isinstance(sub_path, str):
        problem = names.sub_path_problem(sub_path)
        if problem:
            at = _name_at(mount, "sub_path", where)
            reporter.error(at, f"`sub_path` `{sub_path}`: {problem}")


def check_placeholders(data: YamlMap, reporter: Reporter) -> None:
    """Warn about `{{ name }}` placeholders nothing at load time defines and Airflow does not
    know: a typo (`{{ gretting }}`) would reach the task as literal braces."""
    variables = data.get("variables")
    file_variables: set[str] = set(variables) if isinstance(variables, dict) else set()
    for pipeline, _ in _entries(data, "pipelines"):
        for task, _ in _entries(pipeline, "tasks"):
            task_variables = task.get("variables")
            own: set[str] = set(task_variables) if isinstance(task_variables, dict) else set()
            known = file_variables | own
            for key in task:
                if key in ("variables", "task", "type"):
                    continue
                for name in sorted(set(_placeholders_in(task[key]))):
                    _warn_placeholder(task, key, name, known, key in RUN_TIME_TASK_FIELDS, reporter)
    for section in ("images", "services", "volumes", "executors"):
        for entry, _ in _entries(data, section):
            for key in entry:
                for name in sorted(set(_placeholders_in(entry[key]))):
                    _warn_placeholder(entry, key, name, file_variables, False, reporter)


def _placeholders_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return placeholder_names(value) if "{{" in value else []
    if isinstance(value, dict):
        return [n for v in value.values() for n in _placeholders_in(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _placeholders_in(v)]
    return []


def _warn_placeholder(
    entry: YamlMap, key: str, name: str, known: set[str], run_time: bool, reporter: Reporter
) -> None:
    if is_airflow_name(name) or name.split(".", 1)[0] in known:
        return
    close = suggest(name, known | {"ds", "ts", "logical_date", "run_id"})
    if run_time:
        message = (
            f"placeholder `{{{{ {name} }}}}` is not defined in `variables` and is not an "
            "Airflow name: when the task runs it is looked up in the DAG run's conf, Airflow "
            "Variables and the environment, and passed as written if none has it"
        )
    else:
        message = (
            f"placeholder `{{{{ {name} }}}}` is not defined in `variables`: `{key}` is read "
            "when the file loads, so it keeps the braces as written"
        )
    reporter.warning(entry.value_loc(key), message, suggestion=close)


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
    _check_across(services, "service", "service", reporter, scope="deployment")
    _check_transformed(services, "service", names.k8s_name, "Kubernetes name", reporter)
    volumes = [e for _, data in files for e in _entries(data, "volumes")]
    _check_transformed(volumes, "volume", _claim_of, "PersistentVolumeClaim", reporter)
    _check_transformed(volumes, "volume", names.volume_name, "pod volume name", reporter)
    all_images = [e for _, data in files for e in _entries(data, "images")]
    _check_transformed(
        all_images,
        "image",
        lambda tag: names.repository_name(names.SAMPLE_REPOSITORY_PREFIX, tag),
        "ECR repository",
        reporter,
    )
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
                    scope="deployment",
                )
            images.setdefault(tag, (path, body))


def _claim_of(volume: YamlMap) -> str | None:
    claim = volume.get("claim_name")
    if isinstance(claim, str):
        return claim
    try:
        return names.dns_label(str(volume.get("volume")))
    except ValueError:
        return None


def _check_transformed(
    entries: list[tuple[YamlMap, Location]],
    key: str,
    transform: Any,
    what: str,
    reporter: Reporter,
) -> None:
    """Names that differ as written but become one name once deployed (`fraud_scorer` and
    `fraud-scorer` -> the Kubernetes name `fraud-scorer`; long names cut to 63 characters)."""
    seen: dict[str, tuple[str, Location]] = {}
    for entry, where in entries:
        name = entry.get(key)
        if not isinstance(name, str) or "{{" in name:
            continue
        try:
            deployed = transform(entry if transform is _claim_of else name)
        except ValueError:
            continue
        if deployed is None:
            continue
        at = _name_at(entry, key, where)
        first = seen.get(deployed)
        if first is None:
            seen[deployed] = (name, at)
        elif first[0] != name:
            place = f"{first[1].file}:{first[1].line}" if first[1].file else "the built-in base"
            reporter.error(
                at,
                f"{key} `{name}` and {key} `{first[0]}` ({place}) both become the {what} "
                f"`{deployed}` once deployed; rename one",
                scope="deployment",
            )


def _check_across(
    entries: list[tuple[YamlMap, Location]],
    key: str,
    what: str,
    reporter: Reporter,
    scope: Any = "file",
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
                at,
                f"duplicate {what} `{name}`: also declared in {first.file}:{first.line}",
                scope=scope,
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
