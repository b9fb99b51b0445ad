"""Run-time placeholders: `{{ name }}` values that only exist when a task runs.

Loading leaves some `{{ }}` placeholders in task fields (cmd, env_vars, spark arguments,
CloudFormation properties). Airflow already renders those fields with Jinja when the task runs,
so rather than wrapping operators, the plan rewrites each liminal placeholder into a call of one
DAG-level macro, `liminal_var('name')`, and leaves Airflow's own names (`{{ ds }}`,
`{{ var.value.x }}`, `{{ dag_run.conf['k'] }}`, ...) verbatim for Airflow. When Jinja renders the
field, `liminal_var` looks the name up in order: the DAG run's conf, the task's `variables`, the
file's `variables`, Airflow Variables, the environment; a name found nowhere stays as written.

Nothing here touches the Airflow database at import or parse time: Airflow Variables are read
through the task's context only when a template renders. The lookup itself is the DSL's
`placeholders.render`, so load time and run time agree on names, nesting and dotted keys.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from liminal_pulumi.dsl.placeholders import AIRFLOW_CONTEXT_NAMES, render

MACRO_NAME = "liminal_var"
log = logging.getLogger(__name__)


_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_OPEN, _CLOSE = "{{", "}}"


# --- rewriting (pure, at plan time) ------------------------------------------------------------


def _parse(text: str, start: int) -> tuple[list[Any], int]:
    """Split text into literal strings and placeholder nodes (lists) up to an unmatched `}}`."""
    parts: list[Any] = []
    literal = []
    i = start
    while i < len(text):
        if text.startswith(_OPEN, i):
            inner, end = _parse(text, i + 2)
            if end < 0:  # no closing braces: the rest is literal text
                literal.append(text[i:])
                i = len(text)
                break
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(inner)
            i = end + 2
        elif start > 0 and text.startswith(_CLOSE, i):
            if literal:
                parts.append("".join(literal))
            return parts, i
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts, (-1 if start > 0 else i)


def _source(parts: list[Any]) -> str:
    return "".join(p if isinstance(p, str) else _OPEN + _source(p) + _CLOSE for p in parts)


def _is_liminal(node: list[Any]) -> bool:
    """A liminal placeholder holds only name characters and nested liminal placeholders."""
    text = "".join(p for p in node if isinstance(p, str)).strip()
    if any(not isinstance(p, str) and not _is_liminal(p) for p in node):
        return False
    if not any(not isinstance(p, str) for p in node):
        return bool(_NAME.fullmatch(text)) and text.split(".")[0] not in AIRFLOW_CONTEXT_NAMES
    return all(_NAME.fullmatch(p.strip()) for p in node if isinstance(p, str) and p.strip())


def _expression(node: list[Any]) -> str:
    pieces = []
    for index, part in enumerate(node):
        if isinstance(part, str):
            if index == 0:
                part = part.lstrip()
            if index == len(node) - 1:
                part = part.rstrip()
            if part:
                pieces.append(repr(part))
        else:
            pieces.append(_expression(part))
    return f"{MACRO_NAME}({' ~ '.join(pieces) or repr('')})"


_SIMPLE = re.compile(r"\{\{([^{}]*)\}\}")


def _rewrite_simple(match: re.Match[str]) -> str:
    inner = match.group(1)
    if _is_liminal([inner]):
        return _OPEN + " " + _expression([inner]) + " " + _CLOSE
    return match.group(0)


def rewrite(text: str) -> str:
    """Turn liminal `{{ name }}` placeholders into `{{ liminal_var('name') }}` Jinja calls.

    Airflow's own template expressions are kept as written; text without `{{` is returned as is.
    """
    if _OPEN not in text:
        return text
    if _SIMPLE.sub("", text).find(_OPEN) < 0:  # no nesting: the common case, done by regex
        return _SIMPLE.sub(_rewrite_simple, text)
    parts, _ = _parse(text, 0)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif _is_liminal(part):
            out.append(_OPEN + " " + _expression(part) + " " + _CLOSE)
        else:
            out.append(_OPEN + _source(part) + _CLOSE)
    return "".join(out)


def rewrite_value(value: Any) -> Any:
    """`rewrite` applied to every string inside nested lists and mappings."""
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, Mapping):
        return {k: rewrite_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rewrite_value(v) for v in value]
    return value


# --- resolving (at run time, inside Airflow's template rendering) ------------------------------


def resolve(
    name: str,
    *,
    conf: Mapping[str, Any] | None = None,
    task_variables: Mapping[str, Any] | None = None,
    file_variables: Mapping[str, Any] | None = None,
    airflow_variable: Callable[[str], Any] = lambda _name: None,
) -> str:
    """The value of a liminal placeholder, or the placeholder itself when nothing defines it.

    Order: the DAG run's conf, the task's variables, the file's variables, Airflow Variables,
    the environment. Values holding placeholders are rendered with the same lookup.
    """
    scopes = [s for s in (conf, task_variables, file_variables) if s]

    def find(key: str) -> Any:
        placeholder = f"{_OPEN}{key}{_CLOSE}"
        for scope in scopes:
            # `render` knows dotted names into mapping variables (`{{ group.key }}`)
            value = render(placeholder, scope)
            if value != placeholder:
                return value
        value = airflow_variable(key)
        if value is not None:
            return value
        return os.environ.get(key)

    return render(f"{_OPEN} {name} {_CLOSE}", find)


def _airflow_variable_reader(context: Context) -> Any:
    accessor = context.get("var")

    def read(name: str) -> Any:
        if accessor is None:
            return None
        try:
            return accessor["value"].get(name, None)
        except Exception:  # a broken secrets backend must not hide conf/env values
            return None

    return read


def make_macro(
    file_variables: Mapping[str, Any], task_variables: Mapping[str, Mapping[str, Any]]
) -> Any:
    """The `liminal_var` Jinja function for one DAG.

    `task_variables` maps task id -> that task's `variables`; the task being rendered is read
    from the template context.
    """

    @pass_context
    def liminal_var(context: Context, name: str) -> str:
        dag_run = context.get("dag_run")
        conf = getattr(dag_run, "conf", None) or {}
        task = context.get("task")
        own = task_variables.get(getattr(task, "task_id", ""), {})
        value = resolve(
            name,
            conf=conf,
            task_variables=own,
            file_variables=file_variables,
            airflow_variable=_airflow_variable_reader(context),
        )
        if _OPEN in value:
            # Said in the task's log (and by `liminal run`): the task sees the braces as written.
            log.warning(
                "liminal: placeholder {{ %s }} has no value: not in the DAG run's conf, the "
                "task's or the file's variables, Airflow Variables or the environment; the task "
                "receives it as written",
                name,
            )
        return value

    return liminal_var
