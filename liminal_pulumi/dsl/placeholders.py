"""`{{ name }}` placeholders: one renderer for load time and run time.

A placeholder names a variable with letters, digits, `.`, `_` and `-`; placeholders nest
(`{{ model-{{ env }} }}` renders the inner one first, then the outer one with the result), and a
variable's value may itself hold placeholders. A name the lookup does not know is left exactly as
written, so Airflow macros (`{{ ds }}`, `{{ ti.xcom_pull(...) }}`) and run-time values survive.

Loading renders the structural fields (image tags, names, executors, schedules...) from the
file's liminal `variables`; the run-time fields (`RUN_TIME_TASK_FIELDS`) keep their placeholders,
because the DAG run's conf must win over liminal variables when a task runs. The DAG builder
calls the same `render` with its own lookup (conf, liminal + task variables, Airflow Variables,
environment).

Rendering is bounded like YAML aliases are: a value that would grow past
`defaults.MAX_RENDERED_CHARS` (`a: "{{a}}{{a}}"` doubles each round) raises
`PlaceholderExpansionError` at once instead of eating memory and time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from liminal_pulumi import defaults

# The innermost placeholders only: no braces inside.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9._-]+)\s*\}\}")
_MAX_ROUNDS = 25  # bounds self-referencing values; real nesting is a few levels deep

# Task fields that keep their placeholders until the task runs.
RUN_TIME_TASK_FIELDS = frozenset(
    {"cmd", "env_vars", "application_arguments", "conf", "properties", "stack_name", "variables"}
)

Lookup = Mapping[str, Any] | Callable[[str], Any]

# Names Airflow puts in a task's template context (Airflow 2.11 and 3.0): a placeholder whose
# first dotted segment is one of these is Airflow's, not liminal's.
AIRFLOW_CONTEXT_NAMES = frozenset(
    {
        "conf", "conn", "dag", "dag_run", "data_interval_end", "data_interval_start", "ds",
        "ds_nodash", "execution_date", "expanded_ti_count", "exception", "inlets", "inlet_events",
        "logical_date", "macros", "map_index_template", "next_ds", "next_ds_nodash",
        "next_execution_date", "outlets", "outlet_events", "params",
        "prev_data_interval_start_success", "prev_data_interval_end_success", "prev_ds",
        "prev_ds_nodash", "prev_execution_date",
        "prev_execution_date_success", "prev_start_date_success", "prev_end_date_success", "reason",
        "run_id", "start_date", "task", "task_instance", "task_instance_key_str",
        "task_reschedule_count", "test_mode", "templates_dict", "ti", "tomorrow_ds",
        "tomorrow_ds_nodash", "triggering_asset_events", "triggering_dataset_events", "ts",
        "ts_nodash", "ts_nodash_with_tz", "try_number", "var", "yesterday_ds",
        "yesterday_ds_nodash", "liminal_var",
    }
)  # fmt: skip


class PlaceholderExpansionError(ValueError):
    """Rendering placeholders would produce more than `defaults.MAX_RENDERED_CHARS`."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        where = f"variable `{name}`: " if name else ""
        super().__init__(
            f"{where}`{{{{ }}}}` placeholders expand to more than "
            f"{defaults.MAX_RENDERED_CHARS:,} characters (a value that refers to itself, "
            'e.g. `a: "{{a}}{{a}}"`?); placeholders may nest, not grow without bound'
        )


def _lookup_function(lookup: Lookup) -> Callable[[str], Any]:
    if callable(lookup):
        return lookup
    mapping = lookup

    def find(name: str) -> Any:
        if name in mapping:
            return mapping[name]
        # `{{ group.key }}` reaches into a mapping variable.
        head, _, rest = name.partition(".")
        value: Any = mapping.get(head)
        while rest and isinstance(value, Mapping):
            part, _, rest = rest.partition(".")
            value = value.get(part)
        return None if rest or isinstance(value, Mapping | list) else value

    return find


def render(text: str, lookup: Lookup, limit: int = defaults.MAX_RENDERED_CHARS) -> str:
    """`text` with every known placeholder replaced; unknown ones stay verbatim.

    Raises PlaceholderExpansionError when the result would exceed `limit` characters.
    """
    if "{{" not in text:
        return text
    find = _lookup_function(lookup)
    grown = [0]  # characters the replacements of the current round add

    def replace(match: re.Match[str]) -> str:
        value = find(match.group(1))
        if value is None or isinstance(value, Mapping | list | tuple):
            return match.group(0)
        if isinstance(value, bool):
            return "true" if value else "false"
        shown = str(value)
        grown[0] += len(shown)
        if grown[0] > limit:
            raise PlaceholderExpansionError()
        return shown

    for _ in range(_MAX_ROUNDS):
        grown[0] = len(text)
        rendered = PLACEHOLDER.sub(replace, text)
        if len(rendered) > limit:
            raise PlaceholderExpansionError()
        if rendered == text:
            break
        text = rendered
    return text


def placeholder_names(text: str) -> list[str]:
    """The innermost names `text` still refers to."""
    return PLACEHOLDER.findall(text)


def resolve_variables(variables: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Variables with references between them rendered, and the names caught in a cycle.

    Mapping and list values (task variable groups) are rendered inside too.
    """
    resolved: dict[str, Any] = {}
    for name, value in variables.items():
        try:
            resolved[name] = _render_value(value, variables)
        except PlaceholderExpansionError:
            raise PlaceholderExpansionError(str(name)) from None
    cyclic = [
        name
        for name, value in resolved.items()
        if isinstance(value, str)
        and any(
            ref in variables and not isinstance(variables[ref], Mapping | list)
            for ref in placeholder_names(value)
        )
    ]
    return resolved, cyclic


def _render_value(value: Any, lookup: Lookup) -> Any:
    if isinstance(value, str):
        return render(value, lookup)
    if isinstance(value, Mapping):
        return {k: _render_value(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, lookup) for v in value]
    return value


def is_airflow_name(name: str) -> bool:
    """True when `{{ name }}` is Airflow's (its first dotted segment is a context name)."""
    return name.split(".", 1)[0] in AIRFLOW_CONTEXT_NAMES
