"""Airflow's rules for what liminal.yml hands to Airflow: ids, DAG arguments, operator defaults.

Validation applies these without importing Airflow (importing it costs seconds; `liminal
validate` must stay instant and work without the `airflow` extra). The tables are Airflow's
own: `tests/dags/test_dags_airflow_rules.py` checks them against `airflow.utils.helpers`
(KEY_REGEX, the 250-character limit), `inspect.signature` of `DAG` and `BaseOperator`, and the
trigger/weight rules, on Airflow 3.0.6 and 2.11 (both versions MWAA runs), so a drift in either
fails the tests rather than a deployment.

A pipeline key is a DAG argument (`DAG_ARGUMENTS`: it goes to the DAG), else an operator
argument every task inherits (`OPERATOR_ARGUMENTS`: it goes to `default_args`), else it is
neither and is dropped with a warning. Every value is checked for the type Airflow expects and
converted to plain JSON data; `dag_plan` turns durations and dates into Python objects.

Durations are written as **seconds, a number** (`retry_delay: 300`): the one form liminal.yml
accepts, as `timeout_minutes` is a number of minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

# airflow.utils.helpers.KEY_REGEX / validate_key (Airflow 2.11) and
# airflow.sdk.definitions._internal.node (Airflow 3.0): dag_id and task_id rules.
KEY_REGEX = re.compile(r"^[\w.-]+$")
MAX_KEY_LENGTH = 250
_NOT_KEY = re.compile(r"[^\w.-]+")
# airflow.models.dag.TAG_MAX_LEN (2.11) / airflow.sdk.definitions.dag.TAG_MAX_LEN (3.0)
TAG_MAX_LENGTH = 100
# TriggerRule values Airflow 2.11 and 3.0.6 both accept (2.11's `dummy` and
# `none_failed_or_skipped` are gone in 3).
TRIGGER_RULES = frozenset(
    {
        "all_done",
        "all_done_setup_success",
        "all_failed",
        "all_skipped",
        "all_success",
        "always",
        "none_failed",
        "none_failed_min_one_success",
        "none_skipped",
        "one_done",
        "one_failed",
        "one_success",
    }
)
WEIGHT_RULES = frozenset({"absolute", "downstream", "upstream"})
# airflow.utils.operator_resources.Resources' arguments
RESOURCE_KEYS = frozenset({"cpus", "ram", "disk", "gpus"})
# The metadata database stores priority weights in a 32-bit integer column.
_INT32 = (-(2**31), 2**31 - 1)
# A duration or timeout beyond a year is a typo (and 1e23 seconds overflows timedelta).
MAX_DURATION_SECONDS = 366 * 24 * 3600
MAX_COUNT = 10_000  # retries, active runs, pool slots: far above any real setting


@dataclass(frozen=True)
class Rule:
    kind: str  # seconds, int, bool, text, email, date, mapping, tags, choice, resources
    low: int | None = None
    high: int | None = None
    choices: frozenset[str] = frozenset()


_SECONDS = Rule("seconds", 0, MAX_DURATION_SECONDS)
_BOOL = Rule("bool")
_TEXT = Rule("text")

# DAG arguments a pipeline may set (in both versions' `DAG.__init__`). liminal's own pipeline
# keys (`pipeline`, `schedule`, `start_date`, `timeout_minutes`...) map to the rest.
DAG_ARGUMENTS: dict[str, Rule] = {
    "description": _TEXT,
    "catchup": _BOOL,
    "max_active_runs": Rule("int", 1, MAX_COUNT),
    "max_active_tasks": Rule("int", 1, MAX_COUNT),
    "max_consecutive_failed_dag_runs": Rule("int", 0, MAX_COUNT),
    "tags": Rule("tags"),
    "doc_md": _TEXT,
    "end_date": Rule("date"),
    "is_paused_upon_creation": _BOOL,
    "render_template_as_native_obj": _BOOL,
    "dag_display_name": _TEXT,
    "owner_links": Rule("mapping"),
    "params": Rule("mapping"),
}
# Operator arguments (both versions' `BaseOperator.__init__`) a pipeline may give every task.
OPERATOR_ARGUMENTS: dict[str, Rule] = {
    "retries": Rule("int", 0, MAX_COUNT),
    "retry_delay": _SECONDS,
    "max_retry_delay": _SECONDS,
    "retry_exponential_backoff": _BOOL,
    "execution_timeout": _SECONDS,
    "sla": _SECONDS,
    "email": Rule("email"),
    "email_on_failure": _BOOL,
    "email_on_retry": _BOOL,
    "pool": _TEXT,
    "pool_slots": Rule("int", 1, MAX_COUNT),
    "queue": _TEXT,
    "priority_weight": Rule("int", *_INT32),
    "weight_rule": Rule("choice", choices=WEIGHT_RULES),
    "trigger_rule": Rule("choice", choices=TRIGGER_RULES),
    "wait_for_downstream": _BOOL,
    "ignore_first_depends_on_past": _BOOL,
    "wait_for_past_depends_before_skipping": _BOOL,
    "max_active_tis_per_dag": Rule("int", 1, MAX_COUNT),
    "max_active_tis_per_dagrun": Rule("int", 1, MAX_COUNT),
    "run_as_user": _TEXT,
    "executor": _TEXT,
    "executor_config": Rule("mapping"),
    "resources": Rule("resources"),
    "doc": _TEXT,
    "doc_md": _TEXT,
    "doc_rst": _TEXT,
    "doc_json": _TEXT,
    "doc_yaml": _TEXT,
    "task_display_name": _TEXT,
    "logger_name": _TEXT,
}
# Arguments of DAG or BaseOperator that liminal.yml cannot give: Python objects (callbacks,
# assets), or what liminal itself sets per DAG/task. Each is an error naming why.
NOT_WRITABLE: dict[str, str] = {
    **{
        name: "a Python callable; it cannot be written in liminal.yml"
        for name in (
            "on_failure_callback",
            "on_success_callback",
            "on_retry_callback",
            "on_execute_callback",
            "on_skipped_callback",
            "sla_miss_callback",
            "pre_execute",
            "post_execute",
        )
    },
    "dagrun_timeout": "liminal.yml sets it as `timeout_minutes` (minutes)",
    "schedule_interval": "a liminal pipeline key (`schedule`)",
    "start_date": "a liminal pipeline key",
    "schedule": "a liminal pipeline key",
    **{
        name: "set by liminal for each DAG or task"
        for name in (
            "dag_id",
            "task_id",
            "dag",
            "default_args",
            "task_group",
            "user_defined_macros",
            "user_defined_filters",
            "auto_register",
            "do_xcom_push",
            "multiple_outputs",
            "allow_nested_operators",
            "map_index_template",
        )
    },
    **{
        name: "Python objects (templates, lineage, access control) are not supported in liminal.yml"
        for name in (
            "inlets",
            "outlets",
            "access_control",
            "jinja_environment_kwargs",
            "template_searchpath",
            "template_undefined",
            "doc_json",
        )
        if name not in OPERATOR_ARGUMENTS
    },
}
# Arguments only one of the Airflow versions MWAA runs accepts (the DAG would break on the other).
ONE_VERSION_ONLY: dict[str, str] = {
    "fail_fast": "Airflow 3 only (2.11 calls it `fail_stop`)",
    "fail_stop": "Airflow 2 only (3.0 calls it `fail_fast`)",
    "concurrency": "Airflow 2 only, deprecated; use `max_active_tasks`",
    "default_view": "Airflow 2 only",
    "orientation": "Airflow 2 only",
    "task_concurrency": "Airflow 2 only, deprecated; use `max_active_tis_per_dag`",
    "timetable": "Airflow 2 only; use `schedule`",
    "disable_bundle_versioning": "Airflow 3 only",
    "context": "Airflow 2 only (internal)",
    "full_filepath": "Airflow 2 only, deprecated",
}
# How to write each kind, for errors.
_HOW = {
    "seconds": "a number of seconds, e.g. 300 for five minutes",
    "int": "a whole number",
    "bool": "true or false",
    "text": "text",
    "email": "an e-mail address or a list of them",
    "date": "a date like 2024-01-31",
    "mapping": "a mapping (`key: value` lines)",
    "tags": f"a list of texts of at most {TAG_MAX_LENGTH} characters",
    "resources": f"a mapping of {', '.join(sorted(RESOURCE_KEYS))}",
}


def key_problem(name: str) -> str | None:
    """Why `name` is not a valid Airflow dag_id/task_id (Airflow's `validate_key`), or None."""
    if not name:
        return "it is empty"
    if len(name) > MAX_KEY_LENGTH:
        return f"it is {len(name)} characters long; Airflow allows at most {MAX_KEY_LENGTH}"
    if not KEY_REGEX.match(name):
        bad = sorted({c for c in name if not KEY_REGEX.match(c)})
        shown = ", ".join(repr(c) for c in bad)
        example = _NOT_KEY.sub("_", name).strip("_") or "my_pipeline"
        return (
            f"it holds {shown}; Airflow allows letters, digits, `_`, `-` and `.` only "
            f"(e.g. `{example}`)"
        )
    return None


class ArgumentError(ValueError):
    """A value Airflow would reject; the message says what is allowed."""


def how_to_write(rule: Rule) -> str:
    if rule.kind == "choice":
        return "one of " + ", ".join(sorted(rule.choices))
    text = _HOW[rule.kind]
    if rule.kind in ("int", "seconds") and rule.low is not None and rule.high is not None:
        text += f" from {rule.low:,} to {rule.high:,}"
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def convert(rule: Rule, value: Any) -> Any:
    """`value` checked against `rule`, as plain JSON data; raises ArgumentError."""
    wrong = ArgumentError(f"expected {how_to_write(rule)}")
    if rule.kind in ("seconds", "int"):
        if not _is_number(value) or value != value:  # NaN
            raise wrong
        if rule.kind == "int" and (not float(value).is_integer()):
            raise wrong
        if rule.low is not None and rule.high is not None and not rule.low <= value <= rule.high:
            raise wrong
        return int(value) if rule.kind == "int" or float(value).is_integer() else float(value)
    if rule.kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if rule.kind == "text":
        if not isinstance(value, str):
            raise wrong
        return value
    if rule.kind == "choice":
        if not isinstance(value, str) or value not in rule.choices:
            raise wrong
        return value
    if rule.kind == "email":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise wrong
        if not all(isinstance(i, str) and "@" in i and " " not in i.strip() for i in items):
            raise wrong
        return value
    if rule.kind == "date":
        moment = to_datetime(value)
        if moment is None:
            raise wrong
        return moment.isoformat()
    if rule.kind == "tags":
        if not isinstance(value, list) or not all(
            isinstance(t, str) and 0 < len(t) <= TAG_MAX_LENGTH for t in value
        ):
            raise wrong
        return list(value)
    if rule.kind == "resources":
        if not isinstance(value, dict) or not set(value) <= RESOURCE_KEYS:
            raise wrong
        return dict(value)
    if rule.kind == "mapping":
        if not isinstance(value, dict):
            raise wrong
        return dict(value)
    raise AssertionError(rule.kind)


def to_datetime(value: Any) -> dt.datetime | None:
    """A YAML date/datetime/ISO text as an aware datetime (UTC when no zone is given)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# Keys converted to Python objects when the DAG is planned (`airflow.dag_plan`).
DURATION_KEYS = frozenset(
    name
    for table in (DAG_ARGUMENTS, OPERATOR_ARGUMENTS)
    for name, r in table.items()
    if r.kind == "seconds"
)
DATE_KEYS = frozenset(
    name
    for table in (DAG_ARGUMENTS, OPERATOR_ARGUMENTS)
    for name, r in table.items()
    if r.kind == "date"
)
