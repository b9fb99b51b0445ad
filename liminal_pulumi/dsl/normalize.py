"""One merged liminal.yml in the DSL's shapes -> the model's shapes, checked key by key.

After inheritance a child file holds everything it will ever mean; this stage turns it into the
input of `model.LiminalFile`: aliases and historic forms become today's fields, pipeline extras
become Airflow default_args, load-time placeholders are rendered, paths resolved, defaults filled.
On the way it reports what the model alone could not explain well: unknown keys (with the
nearest valid one), unknown task/executor/image types, bad schedules and dates, historic keys
that are accepted with a warning. Values keep their locations, so pydantic's own errors on the
result still point into the right file.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from liminal_pulumi import defaults
from liminal_pulumi.dsl import airflow_rules, model
from liminal_pulumi.dsl.diagnostics import Location, Reporter, suggest
from liminal_pulumi.dsl.monitoring import normalize_monitoring
from liminal_pulumi.dsl.placeholders import (
    RUN_TIME_TASK_FIELDS,
    PlaceholderExpansionError,
    render,
    resolve_variables,
)
from liminal_pulumi.dsl.schedules import cron_problem
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap, to_plain

TOP_LEVEL_KEYS = frozenset(
    {
        "name",
        "type",
        "super",
        "owner",
        "always_run",
        "variables",
        "images",
        "executors",
        "pipelines",
        "services",
        "volumes",
        "secrets",
        "metrics",
        "task_defaults",
        "pipeline_defaults",
        "service_defaults",
    }
)
TASK_CLASSES: dict[str, type[BaseModel]] = {
    "python": model.PythonTask,
    "spark": model.SparkTask,
    "job_start": model.JobStartTask,
    "job_end": model.JobEndTask,
    "create_cloudformation_stack": model.CreateCloudFormationStackTask,
    "delete_cloudformation_stack": model.DeleteCloudFormationStackTask,
}
IMAGE_CLASSES: dict[str, type[BaseModel]] = {
    "python": model.PythonImage,
    "python_server": model.PythonServerImage,
    "spark": model.SparkImage,
}
EXECUTOR_CLASSES: dict[str, type[BaseModel]] = {
    "kubernetes": model.KubernetesExecutor,
    "airflow": model.AirflowExecutor,
    "emr": model.EmrExecutor,
}
# Task keys real files carry that the original ignored: accepted, dropped, with a warning.
HISTORIC_TASK_KEYS = {
    "executors": "parallel executors are not supported; the task runs once",
    "env": "`env` is ignored; use `env_vars` for the task's environment",
    "input_type": "`input_type` is ignored",
    "input_path": "`input_path` is ignored",
    "no_cache": "`no_cache` belongs to an image; it is ignored on a task",
    "output_path": "`output_path` is ignored",
    "split_input": "`split_input` is ignored; the task runs once",
    "cluster_name": "`cluster_name` on a task is ignored; the emr executor's `cluster_name` "
    "names the cluster",
}
HISTORIC_TASK_SUGGESTIONS = {"env": "env_vars"}
HISTORIC_MOUNT_KEYS = {
    "mount": "`mount` names are ignored; the volume is mounted at `path`",
    "pvc": "`pvc` on a mount is ignored; the claim is the volume's `claim_name` under `volumes`",
}
PIPELINE_KEYS = frozenset(
    {
        "pipeline",
        "start_date",
        "timeout_minutes",
        "schedule",
        "schedule_interval",
        "owner",
        "depends_on_past",
        "always_run",
        "tasks",
        "metrics",
        "monitoring",
    }
)
# Historic Liminal pipeline keys that configure nothing in Airflow.
IGNORED_PIPELINE_KEYS = frozenset({"metrics", "monitoring"})
# Airflow's names (DAG and operator arguments): never mistaken for a misspelt pipeline key.
AIRFLOW_ARGUMENT_NAMES = frozenset(
    {
        *airflow_rules.DAG_ARGUMENTS,
        *airflow_rules.OPERATOR_ARGUMENTS,
        *airflow_rules.NOT_WRITABLE,
        *airflow_rules.ONE_VERSION_ONLY,
    }
)
SERVICE_LEGACY_KEYS = frozenset({"name", "type", "source", "endpoints"})
MOUNT_KEYS = frozenset({"volume", "path", "sub_path", "read_only"})
VOLUME_KEYS = frozenset({"volume", "claim_name", "local"})
TOP_SECRET_KEYS = frozenset({"secret", "local_path_file", "remote_path"})


def field_names(cls: type[BaseModel]) -> set[str]:
    """The keys a model accepts as liminal.yml spells them (aliases, e.g. `class`)."""
    return {f.alias or name for name, f in cls.model_fields.items()}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text `{shown}`"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def as_text(value: Any, source_text: str | None = None) -> Any:
    """Scalars as the text a shell or an environment variable sees; other values unchanged.

    `source_text` is the scalar as written when YAML 1.1 read it as another type (`NO`, `1.10`,
    `0755`): that text is what the user meant, and what is passed on.
    """
    if source_text is not None and value is not None:
        return source_text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    return value


def check_top_level_keys(top: YamlMap, reporter: Reporter) -> None:
    """Unknown top-level keys: a likely misspelling is an error, others a warning."""
    for key in top:
        if key not in TOP_LEVEL_KEYS:
            close = suggest(key, TOP_LEVEL_KEYS, cutoff=0.75)
            where = top.key_loc(key)
            if close:
                reporter.error(where, f"unknown top-level key `{key}`", suggestion=close)
            else:
                reporter.warning(where, f"unknown top-level key `{key}` is ignored")


def warn_misread(container: YamlMap, key: str, reporter: Reporter, what: str) -> None:
    """Warn when YAML 1.1 read a plain scalar as another value than its text (`NO` -> false,
    `1.10` -> 1.1, `0755` -> 493) and that value is used as text: say how to quote it."""
    text = container.value_text(key)
    value = container.get(key)
    if text is None or value is None or isinstance(value, dict | list):
        return
    if as_text(value) == text:
        return
    reporter.warning(
        container.value_loc(key),
        f"{what} `{key}`: YAML reads `{text}` as {describe(value)}, used as the text "
        f'`{as_text(value)}`; write `"{text}"` (quoted) to keep it as written',
    )


# Kubernetes resource quantities (a subset of the API's Quantity grammar: a decimal number and
# an optional suffix), e.g. `250m`, `0.5`, `512Mi`, `2G`.
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


class FileNormalizer:
    """Turns one merged child file into the keyword arguments of `model.LiminalFile`."""

    def __init__(self, merged: YamlMap, path: Path, reporter: Reporter) -> None:
        self.merged = merged
        self.path = path
        self.reporter = reporter
        self.variables: dict[str, Any] = {}
        self.top_secrets: dict[str, YamlMap] = {}
        self.extra_images: list[YamlMap] = []
        self.replaced_images: set[str] = set()  # tags the older service form re-declares

    # --- helpers --------------------------------------------------------------------------------
    def error(self, where: Location, message: str, suggestion: str | None = None) -> None:
        self.reporter.error(where, message, suggestion=suggestion)

    def warn(self, where: Location, message: str, suggestion: str | None = None) -> None:
        self.reporter.warning(where, message, suggestion=suggestion)

    def mapping(self, value: Any, where: Location, what: str) -> YamlMap | None:
        if isinstance(value, YamlMap):
            return value
        if isinstance(value, Mapping):
            return YamlMap(value, loc=where)
        self.error(where, f"{what} must be a mapping (`key: value` lines), got {describe(value)}")
        return None

    def sequence(self, value: Any, where: Location, what: str) -> YamlList | None:
        if value is None:
            return YamlList(loc=where)
        if isinstance(value, YamlList):
            return value
        if isinstance(value, list):
            items = YamlList(loc=where)
            for item in value:
                items.append_from(item, where)
            return items
        self.error(where, f"{what} must be a list (`- ...` items), got {describe(value)}")
        return None

    def items(self, container: YamlMap, key: str, what: str) -> Iterable[tuple[YamlMap, Location]]:
        """The mapping items of a list-valued key, reporting items that are not mappings."""
        values = self.sequence(container.get(key), container.value_loc(key), f"`{key}`")
        if values is None:
            return
        for index, item in enumerate(values):
            where = values.item_loc(index)
            entry = self.mapping(item, where, what)
            if entry is not None:
                yield entry, where

    def only_keys(
        self,
        entry: YamlMap,
        allowed: Iterable[str],
        what: str,
        *,
        historic: Mapping[str, str] | None = None,
        lenient: bool = False,
    ) -> YamlMap:
        """`entry` without keys it may not hold; each unknown key is reported where written.

        Historic keys are dropped with a warning. In lenient sections only a likely misspelling
        is an error; other unknown keys are dropped with a warning.
        """
        allowed = set(allowed)
        kept = YamlMap(loc=entry.loc)
        for key in entry:
            if key in allowed:
                kept.put(key, entry[key], entry)
                continue
            where = entry.key_loc(key)
            if historic and key in historic:
                self.warn(where, historic[key], HISTORIC_TASK_SUGGESTIONS.get(key))
                continue
            close = suggest(key, allowed, cutoff=0.75 if lenient else 0.6)
            if lenient and close is None:
                self.warn(where, f"unknown key `{key}` in {what} is ignored")
            else:
                self.error(where, f"unknown key `{key}` in {what}", close)
        return kept

    def render_tree(self, value: Any, where: Location | None = None) -> Any:
        """Load-time placeholders rendered from the file's variables; locations kept."""
        if isinstance(value, str):
            try:
                return render(value, self.variables)
            except PlaceholderExpansionError as error:
                self.error(where or Location(self.path), str(error))
                return value
        if isinstance(value, YamlMap):
            rendered = value.derive()
            for key in rendered:
                rendered[key] = self.render_tree(rendered[key], value.value_loc(key))
            return rendered
        if isinstance(value, YamlList):
            items = YamlList(loc=value.loc)
            for index, item in enumerate(value):
                items.append_from(
                    self.render_tree(item, value.item_loc(index)), value.item_loc(index)
                )
            return items
        if isinstance(value, Mapping):
            return {k: self.render_tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_tree(v) for v in value]
        return value

    def folder_of(self, entry: YamlMap) -> Path:
        """The folder of the file that declared `entry` (relative paths are relative to it)."""
        declared_in = entry.loc.file or self.path
        return declared_in.parent

    def path_of(self, entry: YamlMap, key: str, text: str, *, resolve: bool = False) -> Path | None:
        """`text` (the value of `entry[key]`) as a path from the declaring file's folder, or None
        after reporting why it cannot be one."""
        try:
            if "\x00" in text:
                raise ValueError("it holds a NUL character")
            path = self.folder_of(entry) / Path(text).expanduser()
            return path.resolve() if resolve else path
        except (ValueError, OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
            self.error(entry.value_loc(key), f"`{key}` is not a usable path: {error}")
            return None

    def typed(
        self, entry: YamlMap, classes: Mapping[str, type[BaseModel]], what: str
    ) -> str | None:
        kind = entry.get("type")
        if "type" not in entry:
            self.error(
                entry.loc,
                f"{what} is missing its `type` (one of {', '.join(sorted(classes))})",
            )
            return None
        if not isinstance(kind, str) or kind not in classes:
            shown = f"`{kind}`" if isinstance(kind, str) else describe(kind)
            self.error(
                entry.value_loc("type"),
                f"unknown {what} type {shown}; expected one of {', '.join(sorted(classes))}",
                suggest(kind, classes),
            )
            return None
        return kind

    # --- the file -------------------------------------------------------------------------------
    def run(self) -> YamlMap:
        top = self.merged
        check_top_level_keys(top, self.reporter)
        out = YamlMap(loc=top.loc)
        out.put("name", top.get("name"), top)
        out["path"] = self.path
        self.resolve_variables()
        out["variables"] = self.variables
        owner = self.render_tree(top.get("owner"))
        if owner is not None:
            out.put("owner", as_text(owner), top)
        self.check_defaults_sections()
        self.collect_secrets()
        out.put("volumes", self.volumes(), top)
        out.put("secrets", self.secrets(), top)
        out.put("images", self.images(), top)
        out.put("executors", self.executors(), top)
        out.put("pipelines", self.pipelines(owner), top)
        out.put("services", self.services(), top)
        images = out["images"]
        for extra in self.extra_images:
            images.append_from(extra, extra.loc)
        if "metrics" in top:
            metrics = self.mapping(top["metrics"], top.value_loc("metrics"), "`metrics`")
            if metrics is not None:
                out.put(
                    "metrics", self.only_keys(metrics, {"namespace", "backends"}, "`metrics`"), top
                )
        return out

    def resolve_variables(self) -> None:
        top = self.merged
        if "variables" not in top or top["variables"] is None:
            return
        variables = self.mapping(top["variables"], top.value_loc("variables"), "`variables`")
        if variables is None:
            return
        try:
            resolved, cyclic = resolve_variables(to_plain(variables))
        except PlaceholderExpansionError as error:
            name = error.name if error.name in variables else None
            self.error(variables.value_loc(name) if name else variables.loc, str(error))
            self.variables = {}
            return
        for name in cyclic:
            self.error(
                variables.value_loc(name),
                f"variable `{name}` refers back to itself through other variables",
            )
        for name in variables:
            warn_misread(variables, name, self.reporter, "variable")
        self.variables = resolved

    def check_defaults_sections(self) -> None:
        top = self.merged
        for key in ("task_defaults", "pipeline_defaults", "service_defaults"):
            if key in top and top[key] is not None:
                self.mapping(top[key], top.value_loc(key), f"`{key}`")
        task_defaults = top.get("task_defaults")
        if isinstance(task_defaults, YamlMap):
            for kind, value in task_defaults.items():
                if kind in TASK_CLASSES:
                    self.mapping(value, task_defaults.value_loc(kind), f"`task_defaults.{kind}`")
                elif isinstance(value, Mapping):
                    self.warn(
                        task_defaults.key_loc(kind),
                        f"`task_defaults.{kind}` is not a task type; it applies to no task",
                        suggest(kind, TASK_CLASSES),
                    )

    # --- volumes and secrets --------------------------------------------------------------------
    def volumes(self) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("volumes"))
        for entry, where in self.items(self.merged, "volumes", "a volume"):
            entry = self.render_tree(self.only_keys(entry, VOLUME_KEYS, "a volume", lenient=True))
            volume = entry.derive(["volume", "claim_name"])
            if "local" in entry:
                local = self.mapping(entry["local"], entry.value_loc("local"), "`local`")
                if local is not None:
                    local = self.only_keys(local, {"path"}, "`local`")
                    local_path = local.get("path")
                    if isinstance(local_path, str):
                        path = self.path_of(local, "path", local_path)
                        if path is not None:
                            volume.put("local_path", path, entry)
                    elif "path" in local:
                        self.error(
                            local.value_loc("path"),
                            f"`path` must be a folder path, got {describe(local_path)}",
                        )
            result.append_from(volume, where)
        return result

    def collect_secrets(self) -> None:
        for entry, _ in self.items(self.merged, "secrets", "a secret"):
            if isinstance(entry.get("secret"), str):
                self.top_secrets[entry["secret"]] = entry

    def secrets(self) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("secrets"))
        for entry, where in self.items(self.merged, "secrets", "a secret"):
            entry = self.render_tree(self.only_keys(entry, TOP_SECRET_KEYS, "a secret"))
            secret = entry.derive(["secret"])
            local_file = entry.get("local_path_file")
            if isinstance(local_file, str):
                path = self.path_of(entry, "local_path_file", local_file)
                if path is not None:
                    secret.put("local_path_file", path, entry)
            elif local_file is not None:
                secret.put("local_path_file", local_file, entry)
            result.append_from(secret, where)
        return result

    # --- images and executors -------------------------------------------------------------------
    def images(self) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("images"))
        for entry, where in self.items(self.merged, "images", "an image"):
            kind = self.typed(entry, IMAGE_CLASSES, "image")
            if kind is None:
                continue
            entry = self.render_tree(
                self.only_keys(entry, field_names(IMAGE_CLASSES[kind]), f"a {kind} image")
            )
            result.append_from(self.image_fields(entry), where)
        return result

    def image_fields(self, entry: YamlMap) -> YamlMap:
        image = entry.derive()
        source = entry.get("source", ".")
        if isinstance(source, str):
            path = self.path_of(entry, "source", source, resolve=True)
            if path is not None and not path.is_dir():
                # `liminal build`, `pulumi up` and `liminal run` all start from this folder.
                self.error(
                    entry.value_loc("source") if "source" in entry else entry.loc,
                    f"`source` folder {path} does not exist (the image's build context, "
                    "relative to this liminal.yml)",
                )
            elif path is not None:
                image.put("source", path, entry)
        if "python_version" in entry:
            self.python_version(entry, image)
        if "endpoints" in entry:
            endpoints = YamlList(loc=entry.value_loc("endpoints"))
            for endpoint, where in self.items(entry, "endpoints", "an endpoint"):
                endpoints.append_from(
                    self.only_keys(endpoint, field_names(model.Endpoint), "an endpoint"), where
                )
            image.put("endpoints", endpoints, entry)
        return image

    def python_version(self, entry: YamlMap, image: YamlMap) -> None:
        """The image's Python version as written (`3.10` unquoted is the number 3.1 to YAML),
        checked against the versions the base image is published for."""
        value = entry["python_version"]
        text = entry.value_text("python_version")
        version = text if text is not None else value
        where = entry.value_loc("python_version")
        if isinstance(version, int | float) and not isinstance(version, bool):
            version = str(version)
        if not isinstance(version, str):
            self.error(
                where, f"`python_version` must be a version like 3.11, got {describe(value)}"
            )
            image.pop("python_version", None)
            return
        version = version.strip()
        image.put("python_version", version, entry)
        supported = defaults.SUPPORTED_PYTHON_VERSIONS
        minimum = ".".join(map(str, defaults.PYTHON_SERVER_MIN_VERSION))
        parts = version.split(".")
        numbers = tuple(int(p) for p in parts[:2]) if all(p.isdigit() for p in parts) else None
        if (
            entry.get("type") == "python_server"
            and numbers is not None
            and numbers < defaults.PYTHON_SERVER_MIN_VERSION
        ):
            self.error(
                where,
                f"python_version {version} is too old for the model server: a python_server "
                f"image needs {minimum} or newer",
            )
        elif version not in supported:
            self.error(
                where,
                f"python_version `{version}` is not supported: the images are built from "
                f"{defaults.PYTHON_BASE_IMAGE.format(python_version='<version>')}, published "
                f"for {', '.join(supported)}",
                suggest(version, supported),
            )

    def executors(self) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("executors"))
        for entry, where in self.items(self.merged, "executors", "an executor"):
            kind = self.typed(entry, EXECUTOR_CLASSES, "executor")
            if kind is None:
                continue
            entry = self.render_tree(entry)
            if kind == "kubernetes":
                executor = entry.derive(["executor", "type", "namespace"])
                pod_args = {k: to_plain(v) for k, v in entry.items() if k not in executor}
                executor["pod_args"] = pod_args
            elif kind == "emr":
                allowed = field_names(model.EmrExecutor) | {"cluster_state"}
                executor = self.only_keys(entry, allowed, "an emr executor")
                if "cluster_state" in executor:
                    states = executor.pop("cluster_state")
                    if "cluster_states" not in executor:
                        executor.put(
                            "cluster_states", [states] if isinstance(states, str) else states
                        )
                if "properties" in executor:
                    executor["properties"] = to_plain(executor["properties"])
            else:
                executor = self.only_keys(entry, field_names(model.AirflowExecutor), "an executor")
            result.append_from(executor, where)
        return result

    # --- pipelines and tasks --------------------------------------------------------------------
    def pipelines(self, file_owner: Any) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("pipelines"))
        for entry, where in self.items(self.merged, "pipelines", "a pipeline"):
            result.append_from(self.pipeline(entry, file_owner), where)
        return result

    def pipeline(self, entry: YamlMap, file_owner: Any) -> YamlMap:
        tasks_value = entry.get("tasks")
        tasks_where = entry.value_loc("tasks")
        entry = self.render_tree(entry.derive(k for k in entry if k != "tasks"))
        pipeline = YamlMap(loc=entry.loc)
        default_args: dict[str, Any] = {}
        dag_args: dict[str, Any] = {}
        for key in entry:
            if key in IGNORED_PIPELINE_KEYS:
                continue
            if key in PIPELINE_KEYS:
                pipeline.put(key, entry[key], entry)
                continue
            self.airflow_argument(entry, key, dag_args, default_args)
        if "schedule_interval" in pipeline:
            interval = pipeline.pop("schedule_interval")
            if "schedule" in pipeline:
                self.warn(
                    entry.key_loc("schedule_interval"),
                    "both `schedule` and `schedule_interval` are set; `schedule` is used",
                )
            else:
                pipeline.put("schedule", interval)
                pipeline.value_locs["schedule"] = entry.value_loc("schedule_interval")
        self.check_schedule(pipeline)
        if "start_date" in pipeline:
            start = airflow_rules.to_datetime(pipeline["start_date"])
            if start is None:
                self.error(
                    pipeline.value_loc("start_date"),
                    f"`start_date` must be a date like 2024-01-31, got "
                    f"{describe(pipeline['start_date'])}",
                )
                pipeline.pop("start_date")
            else:
                pipeline["start_date"] = start
        if "owner" not in pipeline and file_owner is not None:
            pipeline["owner"] = as_text(file_owner)
        if "always_run" not in pipeline and "always_run" in self.merged:
            pipeline.put("always_run", self.merged["always_run"], self.merged)
        pipeline["default_args"] = default_args
        pipeline["dag_args"] = dag_args
        pipeline["tasks"] = self.tasks(tasks_value, tasks_where)
        return pipeline

    def airflow_argument(
        self, entry: YamlMap, key: str, dag_args: dict[str, Any], default_args: dict[str, Any]
    ) -> None:
        """A pipeline key that is not liminal's: a DAG argument, an operator argument every
        task inherits (default_args), or neither (dropped with a warning). Values are checked
        with Airflow's types (`airflow_rules`)."""
        value = to_plain(entry[key])
        rules = airflow_rules
        if key in rules.DAG_ARGUMENTS or key in rules.OPERATOR_ARGUMENTS:
            is_dag = key in rules.DAG_ARGUMENTS
            rule = rules.DAG_ARGUMENTS[key] if is_dag else rules.OPERATOR_ARGUMENTS[key]
            try:
                converted = rules.convert(rule, value)
            except rules.ArgumentError as error:
                what = "DAG argument" if is_dag else "Airflow task argument (default_args)"
                self.error(
                    entry.value_loc(key), f"`{key}` is an {what}: {error}, got {describe(value)}"
                )
                return
            (dag_args if is_dag else default_args)[key] = converted
            return
        where = entry.key_loc(key)
        if key in rules.NOT_WRITABLE:
            self.error(where, f"`{key}` cannot be set on a pipeline: {rules.NOT_WRITABLE[key]}")
            return
        if key in rules.ONE_VERSION_ONLY:
            self.warn(
                where,
                f"`{key}` is ignored: it is an argument of {rules.ONE_VERSION_ONLY[key]}, and "
                "liminal DAGs must load on both Airflow 2.11 and 3.0 (MWAA runs either)",
            )
            return
        known = (PIPELINE_KEYS - IGNORED_PIPELINE_KEYS) | AIRFLOW_ARGUMENT_NAMES
        close = suggest(key, known, cutoff=0.8)
        if close and close not in entry:
            self.error(where, f"unknown key `{key}` in a pipeline", close)
            return
        self.warn(
            where,
            f"`{key}` is ignored: it is neither a liminal pipeline key nor an argument of "
            "Airflow's DAG or BaseOperator",
        )

    def check_schedule(self, pipeline: YamlMap) -> None:
        if "schedule" not in pipeline:
            return
        schedule = pipeline["schedule"]
        where = pipeline.value_loc("schedule")
        if schedule is None or (isinstance(schedule, str) and schedule.strip() in ("None", "")):
            pipeline["schedule"] = None
            return
        if not isinstance(schedule, str):
            self.error(
                where,
                f"`schedule` must be a cron expression or a preset such as "
                f"@daily, got {describe(schedule)}",
            )
            pipeline.pop("schedule")
            return
        problem = cron_problem(schedule)
        if problem and "{{" not in schedule:
            self.error(where, f"`schedule` is not a valid cron expression: {problem}")
            pipeline.pop("schedule")

    def tasks(self, value: Any, where: Location) -> YamlList:
        values = self.sequence(value, where, "`tasks`")
        result = YamlList(loc=where)
        for index, item in enumerate(values or []):
            item_where = values.item_loc(index) if values is not None else where
            entry = self.mapping(item, item_where, "a task")
            if entry is None:
                continue
            task = self.task(entry)
            if task is not None:
                result.append_from(task, item_where)
        return result

    def task(self, entry: YamlMap) -> YamlMap | None:
        kind = self.typed(entry, TASK_CLASSES, "task")
        if kind is None:
            return None
        if "source" in entry and kind in ("python", "spark"):
            self.task_image(entry, kind)
        allowed, historic = _task_keys(kind)
        entry = self.only_keys(entry, allowed, f"a {kind} task", historic=historic)
        entry.pop("source", None)
        run_time = entry.derive(k for k in entry if k in RUN_TIME_TASK_FIELDS)
        task = self.render_tree(entry.derive(k for k in entry if k not in RUN_TIME_TASK_FIELDS))
        for key in run_time:
            task.put(key, run_time[key], run_time)
        if task.get("executor") is None:
            task["executor"] = defaults.DEFAULT_EXECUTOR_BY_TASK_TYPE[kind]
        if "env_vars" in task:
            env = self.mapping(task["env_vars"], task.value_loc("env_vars"), "`env_vars`")
            if env is not None:
                task.put("env_vars", self.environment(env), task)
        if "variables" in task:
            task.put("variables", self.task_variables(task), task)
        if "mounts" in task:
            task.put("mounts", self.mounts(task), task)
        if "secrets" in task:
            task.put("secrets", self.secret_mounts(task), task)
        if kind == "spark":
            self.spark_fields(task)
        if "properties" in task:
            task["properties"] = to_plain(task["properties"])
        return task

    def environment(self, env: YamlMap) -> YamlMap:
        result = env.derive()
        for key, value in env.items():
            if isinstance(value, Mapping | list):
                self.error(
                    env.value_loc(key),
                    f"environment variable `{key}` must be a plain value, got {describe(value)}",
                )
                result.pop(key)
            else:
                result[key] = as_text(value, env.value_text(key))
        return result

    def task_variables(self, task: YamlMap) -> Any:
        value = task["variables"]
        if isinstance(value, str):  # the name of a mapping in the file's `variables`
            group = self.variables.get(value)
            if isinstance(group, Mapping):
                return dict(group)
            self.error(
                task.value_loc("variables"),
                f"task `variables` names `{value}`, which is not a mapping in `variables`",
                suggest(value, [k for k, v in self.variables.items() if isinstance(v, Mapping)]),
            )
            return {}
        return to_plain(value) if isinstance(value, Mapping) else value

    def mounts(self, task: YamlMap) -> YamlList:
        result = YamlList(loc=task.value_loc("mounts"))
        for entry, where in self.items(task, "mounts", "a mount"):
            mount = self.render_tree(
                self.only_keys(entry, MOUNT_KEYS, "a mount", historic=HISTORIC_MOUNT_KEYS)
            )
            result.append_from(mount, where)
        return result

    def secret_mounts(self, task: YamlMap) -> YamlList:
        result = YamlList(loc=task.value_loc("secrets"))
        for entry, where in self.items(task, "secrets", "a secret mount"):
            mount = self.render_tree(
                self.only_keys(entry, field_names(model.SecretMount), "a secret mount")
            )
            name = mount.get("secret")
            declared = self.top_secrets.get(name) if isinstance(name, str) else None
            if "remote_path" not in mount and declared is not None and "remote_path" in declared:
                mount.put("remote_path", declared["remote_path"], declared)
            result.append_from(mount, where)
        return result

    def spark_fields(self, task: YamlMap) -> None:
        if "conf" in task:
            conf = self.mapping(task["conf"], task.value_loc("conf"), "`conf`")
            if conf is not None:
                task.put("conf", dict(_flatten(to_plain(conf))), task)
        if "application_arguments" in task:
            arguments = task["application_arguments"]
            if isinstance(arguments, Mapping):
                flat: list[Any] = []
                for key, value in arguments.items():
                    where = arguments.value_loc(key) if isinstance(arguments, YamlMap) else task.loc
                    flat.extend([key, self.spark_argument(value, where)])
                task.put("application_arguments", flat, task)
            elif isinstance(arguments, list):
                task.put(
                    "application_arguments",
                    [
                        self.spark_argument(
                            value,
                            arguments.item_loc(index)
                            if isinstance(arguments, YamlList)
                            else task.loc,
                        )
                        for index, value in enumerate(arguments)
                    ],
                    task,
                )

    def spark_argument(self, value: Any, where: Location) -> Any:
        """One spark-submit argument as text; a list or mapping becomes its Python text.

        The original passed `str(value)` to spark-submit, so `[a, b]` reached the application
        as the one argument `['a', 'b']`: kept, with a warning, so the command does not change.
        """
        if not isinstance(value, Mapping | list):
            return as_text(value)
        text = str(to_plain(value))
        self.warn(
            where,
            f"a {'list' if isinstance(value, list) else 'mapping'} is passed to spark-submit "
            f"as the one argument `{text}` (its Python text, as the original did); "
            "write the argument as text to choose its form",
        )
        return text

    def task_image(self, entry: YamlMap, kind: str) -> None:
        """Older files build a task's image from the task itself (`image` plus `source`)."""
        tag = self.render_tree(entry.get("image"))
        if not isinstance(tag, str) or not isinstance(entry.get("source"), str):
            return
        declared = {i.get("image") for i, _ in self.items(self.merged, "images", "an image")}
        known = declared | {i.get("image") for i in self.extra_images}
        if tag in known:
            if tag in declared:
                self.warn(
                    entry.key_loc("source"),
                    f"`source` is ignored: image `{tag}` is declared under `images`",
                )
            return
        image = YamlMap(loc=entry.loc)
        image.put("image", tag)
        image.put("type", kind)
        image.put("source", entry["source"], entry)
        self.warn(
            entry.key_loc("source"),
            f"older task form: the task declares image `{tag}` ({kind}) from its `source`; "
            "declare it under `images` instead",
        )
        self.extra_images.append(self.image_fields(image))

    # --- services -------------------------------------------------------------------------------
    def services(self) -> YamlList:
        result = YamlList(loc=self.merged.value_loc("services"))
        allowed = field_names(model.Service) | SERVICE_LEGACY_KEYS
        for entry, where in self.items(self.merged, "services", "a service"):
            entry = self.render_tree(self.only_keys(entry, allowed, "a service", lenient=True))
            result.append_from(self.service(entry), where)
        return result

    def service(self, entry: YamlMap) -> YamlMap:
        service = entry.derive(k for k in entry if k not in SERVICE_LEGACY_KEYS)
        if service.get("service") is None and isinstance(entry.get("name"), str):
            service.put("service", entry["name"], entry)
            service.key_locs["service"] = entry.key_loc("name")
        elif "name" in entry and entry.get("name") != service.get("service"):
            self.warn(entry.key_loc("name"), "`name` is ignored: the service is named by `service`")
        kind = entry.get("type")
        if kind is not None and kind != "python_server":
            self.error(
                entry.value_loc("type"),
                f"unknown service type {f'`{kind}`' if isinstance(kind, str) else describe(kind)}"
                "; expected python_server",
                suggest(kind, ["python_server"]),
            )
        if "env_vars" in service:
            env = self.mapping(service["env_vars"], service.value_loc("env_vars"), "`env_vars`")
            if env is not None:
                service.put("env_vars", self.environment(env), service)
        self.service_values(service)
        if "mounts" in service:
            service.put("mounts", self.mounts(service), service)
        normalize_monitoring(self, service)  # after mounts: its paths must lie on one
        if "source" in entry or "endpoints" in entry:
            self.service_image(entry, service)
        return service

    def service_values(self, service: YamlMap) -> None:
        """What gunicorn, the container and Kubernetes accept, checked here with a hint (the
        model's bounds catch the rest)."""
        port = service.get("port")
        if isinstance(port, int) and not isinstance(port, bool):
            low, high = defaults.SERVICE_PORT_RANGE
            if not low <= port <= high:
                self.error(
                    service.value_loc("port"),
                    f"`port` must be from {low} to {high}, got {port}: the server runs as a "
                    f"non-root user, which cannot listen below {low}; the load balancer still "
                    f"answers on port {defaults.SERVICE_LB_PORT}",
                )
                service.pop("port")
        for key in ("cpu", "memory"):
            if key not in service:
                continue
            value = as_text(service[key], service.value_text(key))
            if not isinstance(value, str) or not _QUANTITY.match(value):
                example = "250m or 0.5" if key == "cpu" else "512Mi or 2Gi"
                self.error(
                    service.value_loc(key),
                    f"`{key}` must be a Kubernetes quantity like {example}, got "
                    f"{describe(service[key])}",
                )
                service.pop(key)
            else:
                service[key] = value
        replicas, most = service.get("replicas"), service.get("max_replicas")
        if isinstance(replicas, int) and isinstance(most, int) and replicas > most:
            self.error(
                service.value_loc("max_replicas"),
                f"`max_replicas` ({most}) is below `replicas` ({replicas}); the autoscaler "
                "needs max_replicas >= replicas",
            )

    def service_image(self, entry: YamlMap, service: YamlMap) -> None:
        """The older service form builds its own server image from `source` and `endpoints`."""
        name = service.get("service")
        tag = service.get("image") if isinstance(service.get("image"), str) else name
        if not isinstance(tag, str):
            return
        service.setdefault("image", tag)
        images = {
            i.get("image"): i
            for i, _ in self.items(self.merged, "images", "an image")
            if isinstance(i.get("image"), str)
        }
        declared = images.get(tag)
        server = YamlMap(loc=entry.loc)
        server.put("image", tag)
        server.put("type", "python_server")
        if declared is not None:
            for key in ("source", "python_version", "no_cache", "pip_conf"):
                if key in declared:
                    server.put(key, declared[key], declared)
        for key in ("source", "endpoints"):
            if key in entry:
                server.put(key, entry[key], entry)
        if (
            declared is not None
            and declared.get("type") == "python_server"
            and "endpoints" not in entry
        ):
            return
        what = "upgrades image" if declared is not None else "declares image"
        self.warn(
            entry.key_loc("endpoints" if "endpoints" in entry else "source"),
            f"older service form: service `{name}` {what} `{tag}` as a python_server image "
            f"with the service's endpoints; declare it under `images` instead",
        )
        self.extra_images.append(self.image_fields(server))
        self.replaced_images.add(tag)


@functools.cache
def _task_keys(kind: str) -> tuple[frozenset[str], Mapping[str, str]]:
    """The keys a `kind` task accepts, and those it accepts with a warning: historic keys, and
    keys of other task types (a `task_defaults` entry or a copied task can carry them; the
    original ignored them)."""
    allowed = field_names(TASK_CLASSES[kind]) | (
        {"source"} if kind in ("python", "spark") else set()
    )
    historic = dict(HISTORIC_TASK_KEYS)
    owners: dict[str, list[str]] = {}
    for other, cls in TASK_CLASSES.items():
        if other != kind:
            for key in field_names(cls) - allowed:
                owners.setdefault(key, []).append(other)
    for key, kinds in owners.items():
        historic.setdefault(
            key, f"`{key}` is a key of {' and '.join(kinds)} tasks; it is ignored on a {kind} task"
        )
    return frozenset(allowed), historic


def _flatten(conf: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    for key, value in conf.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _flatten(value, name)
        else:
            yield name, as_text(value)


def normalize_file(merged: YamlMap, path: Path, reporter: Reporter) -> YamlMap:
    normalizer = FileNormalizer(merged, path, reporter)
    out = normalizer.run()
    if normalizer.replaced_images:
        images = out["images"]
        keep = YamlList(loc=images.loc)
        synthetic = normalizer.extra_images
        for index, image in enumerate(images):
            tag = image.get("image") if isinstance(image, Mapping) else None
            replaced = isinstance(tag, str) and tag in normalizer.replaced_images
            if replaced and all(image is not s for s in synthetic):
                continue
            keep.append_from(image, images.item_loc(index))
        out["images"] = keep
    return out
