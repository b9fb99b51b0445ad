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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# The innermost placeholders only: no braces inside.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9._-]+)\s*\}\}")
_MAX_ROUNDS = 25  # bounds self-referencing values; real nesting is a few levels deep

# Task fields that keep their placeholders until the task runs.
RUN_TIME_TASK_FIELDS = frozenset(
    {"cmd", "env_vars", "application_arguments", "conf", "properties", "stack_name", "variables"}
)

Lookup = Mapping[str, Any] | Callable[[str], Any]


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


def render(text: str, lookup: Lookup) -> str:
    """`text` with every known placeholder replaced; unknown ones stay verbatim."""
    if "{{" not in text:
        return text
    find = _lookup_function(lookup)

    def replace(match: re.Match[str]) -> str:
        value = find(match.group(1))
        if value is None or isinstance(value, Mapping | list | tuple):
            return match.group(0)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    for _ in range(_MAX_ROUNDS):
        rendered = PLACEHOLDER.sub(replace, text)
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
    resolved = {name: _render_value(value, variables) for name, value in variables.items()}
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
