"""The JSON Schema of liminal.yml as users write it, for editors (yaml-language-server).

It describes the DSL's shapes (before inheritance), not the model: keys may be left to a parent,
so only the keys that name an entry (`pipeline`, `task`, `image`, ...) and `type` are required.
Field types come from the model; the keys whose written form differs from the model's (dates,
nested spark `conf`, `local.path`, pipeline extras that become Airflow default_args) are spelt
out here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from liminal_pulumi.dsl import model
from liminal_pulumi.dsl.normalize import (
    EXECUTOR_CLASSES,
    HISTORIC_MOUNT_KEYS,
    HISTORIC_TASK_KEYS,
    IMAGE_CLASSES,
    TASK_CLASSES,
)

SCHEMA_ID = "https://liminal-pulumi.invalid/liminal.schema.json"
_ANY: dict[str, Any] = {}
_TEXT = {"type": "string"}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_PLACEHOLDER_OR_TEXT = {"type": "string", "description": "may hold {{ variable }} placeholders"}
_DATE = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "description": "a YAML date such as 2024-01-31",
}
_ENV = {"type": "object", "additionalProperties": _SCALAR}


def _strip_titles(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_titles(v) for k, v in value.items() if k != "title"}
    if isinstance(value, list):
        return [_strip_titles(v) for v in value]
    return value


def _fields(cls: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = _strip_titles(cls.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"))
    defs.update(schema.pop("$defs", {}))
    return dict(schema.get("properties", {}))


def _airflow_arguments() -> dict[str, Any]:
    """The pipeline keys that are Airflow's (dsl/airflow_rules.py), with Airflow's types."""
    from liminal_pulumi.dsl import airflow_rules

    def schema_of(rule: airflow_rules.Rule, where: str) -> dict[str, Any]:
        kinds: dict[str, dict[str, Any]] = {
            "seconds": {"type": "number"},
            "int": {"type": "integer"},
            "bool": {"type": "boolean"},
            "text": {"type": "string"},
            "email": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT}]},
            "date": dict(_DATE),
            "mapping": {"type": "object"},
            "resources": {"type": "object"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "choice": {"enum": sorted(rule.choices)},
        }
        schema = dict(kinds[rule.kind])
        if rule.low is not None and rule.high is not None:
            schema |= {"minimum": rule.low, "maximum": rule.high}
        unit = " (seconds)" if rule.kind == "seconds" else ""
        return schema | {"description": f"Airflow {where} argument{unit}"}

    properties = {k: schema_of(r, "task") for k, r in airflow_rules.OPERATOR_ARGUMENTS.items()}
    properties |= {k: schema_of(r, "DAG") for k, r in airflow_rules.DAG_ARGUMENTS.items()}
    return properties


def _object(
    properties: dict[str, Any], required: list[str], *, closed: bool = True, **extra: Any
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def _typed(
    classes: dict[str, type[BaseModel]],
    name_key: str,
    defs: dict[str, Any],
    overrides: dict[str, Any],
    *,
    closed: bool = True,
) -> dict[str, Any]:
    """One object for a discriminated family: every key of every type, `type` as an enum."""
    properties: dict[str, Any] = {}
    for cls in classes.values():
        properties.update(_fields(cls, defs))
    properties.update(overrides)
    properties["type"] = {"enum": sorted(classes)}
    return _object(properties, [name_key], closed=closed)


def _monitoring_written_forms(defs: dict[str, Any]) -> None:
    """`monitoring` as written: `true`/`false` short forms; `path` has a default."""
    on_off = {"type": ["boolean", "null"], "description": "true: defaults; false/null: off"}
    defs["Monitoring"]["required"] = []
    properties = defs["Monitoring"]["properties"]
    for key in ("prediction_log", "drift", "alerts"):
        ref = {"$ref": f"#/$defs/{key.title().replace('_', '')}"}
        # A drift check has no default reference: only its off forms are short.
        short = {"enum": [False, None]} if key == "drift" else on_off
        properties[key] = {"anyOf": [ref, short]}
    properties["path"] = {
        **_TEXT,
        "description": "default: <the service's first mount path>/monitoring/<service>",
    }
    defs["Alerts"]["properties"]["notify"] = {"$ref": "#/$defs/Notify"}
    for key in ("email", "https"):
        defs["Notify"]["properties"][key] = {"anyOf": [_TEXT, {"type": "array", "items": _TEXT}]}
    defs["Service"]["properties"]["monitoring"] = {
        "anyOf": [{"$ref": "#/$defs/Monitoring"}, on_off]
    }


def liminal_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    task_overrides = {
        "executor": _TEXT,
        "env_vars": _ENV,
        "mounts": {"type": "array", "items": {"$ref": "#/$defs/Mount"}},
        "secrets": {
            "type": "array",
            "items": _object({"secret": _TEXT, "remote_path": _TEXT}, ["secret"]),
        },
        "variables": {"anyOf": [{"type": "object"}, _TEXT]},
        "conf": {"type": "object"},
        "application_arguments": {"anyOf": [{"type": "array"}, {"type": "object"}]},
        "cmd": _PLACEHOLDER_OR_TEXT,
        "properties": {"type": "object"},
    }
    for key, why in HISTORIC_TASK_KEYS.items():
        task_overrides[key] = {"deprecated": True, "description": why}
    task_overrides["source"] = {
        **_TEXT,
        "deprecated": True,
        "description": "older form: the task's image is built from this folder; "
        "declare the image under `images` instead",
    }
    defs["Task"] = _typed(TASK_CLASSES, "task", defs, task_overrides)
    defs["Task"]["required"] = ["task", "type"]
    image_overrides = {"source": _TEXT, "python_version": {"type": ["string", "number"]}}
    defs["Image"] = _typed(IMAGE_CLASSES, "image", defs, image_overrides)
    defs["Image"]["required"] = ["image", "type"]
    executor_overrides = {"cluster_state": {"anyOf": [_TEXT, {"type": "array"}]}}
    defs["Executor"] = _typed(EXECUTOR_CLASSES, "executor", defs, executor_overrides, closed=False)
    defs["Executor"]["required"] = ["executor", "type"]
    defs["Executor"]["description"] = "kubernetes executors pass every other key to the pod"
    pipeline = _fields(model.Pipeline, defs)
    pipeline.pop("default_args", None)
    pipeline.pop("dag_args", None)
    pipeline |= _airflow_arguments()
    pipeline |= {
        "start_date": _DATE,
        "schedule": {"type": ["string", "null"], "description": "cron or a preset (@daily)"},
        "schedule_interval": {"type": ["string", "null"], "description": "alias of schedule"},
        "tasks": {"type": "array", "items": {"$ref": "#/$defs/Task"}},
        "metrics": {"description": "ignored"},
        "monitoring": {"description": "ignored"},
    }
    defs["Pipeline"] = _object(
        pipeline,
        ["pipeline"],
        closed=False,
        description="Airflow's DAG arguments go to the DAG, its operator arguments to every "
        "task (default_args); durations are seconds",
    )
    service = _fields(model.Service, defs) | {
        "service": {"type": ["string", "null"]},
        "env_vars": _ENV,
        "mounts": {"type": "array", "items": {"$ref": "#/$defs/Mount"}},
        "name": {**_TEXT, "description": "older form of `service`"},
        "type": {"enum": ["python_server"]},
        "source": _TEXT,
        "endpoints": {"type": "array", "items": {"$ref": "#/$defs/Endpoint"}},
    }
    defs["Service"] = _object(service, [], closed=False)
    _monitoring_written_forms(defs)
    defs["Volume"] = _object(
        {
            "volume": _TEXT,
            "claim_name": _TEXT,
            "local": _object({"path": _TEXT}, ["path"]),
            "pvc": {**_TEXT, "deprecated": True, "description": "ignored; use `claim_name`"},
        },
        ["volume"],
    )
    defs["Secret"] = _object(
        {"secret": _TEXT, "local_path_file": _TEXT, "remote_path": _TEXT}, ["secret"]
    )
    # After the models' own definitions: the written form also allows historic keys (`mount`).
    mount = _fields(model.Mount, defs) | {
        key: {**_TEXT, "deprecated": True, "description": why}
        for key, why in HISTORIC_MOUNT_KEYS.items()
    }
    defs["Mount"] = _object(mount, ["volume", "path"])
    defaults_by_type = {kind: {"type": "object"} for kind in TASK_CLASSES}
    top = {
        "name": {**_TEXT, "description": "unique across the project"},
        "type": {"enum": ["sub", "super"]},
        "super": {**_TEXT, "description": "the `name` of the parent file"},
        "owner": _TEXT,
        "always_run": {"type": "boolean"},
        "variables": {"type": "object"},
        "images": {"type": "array", "items": {"$ref": "#/$defs/Image"}},
        "executors": {"type": "array", "items": {"$ref": "#/$defs/Executor"}},
        "pipelines": {"type": "array", "items": {"$ref": "#/$defs/Pipeline"}},
        "services": {"type": "array", "items": {"$ref": "#/$defs/Service"}},
        "volumes": {"type": "array", "items": {"$ref": "#/$defs/Volume"}},
        "secrets": {"type": "array", "items": {"$ref": "#/$defs/Secret"}},
        "metrics": _object({"namespace": _TEXT, "backends": {"type": "array", "items": _TEXT}}, []),
        "task_defaults": {"type": "object", "properties": defaults_by_type},
        "pipeline_defaults": {
            "type": "object",
            "properties": {
                "before_tasks": {"type": "array", "items": {"$ref": "#/$defs/Task"}},
                "after_tasks": {"type": "array", "items": {"$ref": "#/$defs/Task"}},
                "tasks": {"type": "array", "items": {"type": "object"}},
            },
        },
        "service_defaults": {"type": "object"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "liminal.yml",
        "description": "Apache Liminal workflow file (liminal-pulumi dialect)",
        **_object(top, ["name"], closed=False),
        "$defs": defs,
    }
