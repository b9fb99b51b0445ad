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
from pathlib import Path
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


def _find(scope: Mapping[str, Any], key: str) -> Any:
    """`key` in a variables mapping; `group.key` reaches into a mapping value."""
    if key in scope:
        return scope[key]
    head, _, rest = key.partition(".")
    value: Any = scope.get(head)
    while rest and isinstance(value, Mapping):
        part, _, rest = rest.partition(".")
        value = value.get(part)
    return None if rest else value


_LITERAL = re.compile("\x00(\\d+)\x00")


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
    the environment. The project's own variables may hold placeholders, rendered with the same
    lookup; a value from the conf, an Airflow Variable or the environment is used literally,
    never rendered again (a conf value `{{ AWS_SECRET_ACCESS_KEY }}` stays that text).
    """
    literals: list[str] = []

    def literal(value: Any) -> str | None:
        if value is None or isinstance(value, Mapping | list | tuple):
            return None
        literals.append(("true" if value else "false") if isinstance(value, bool) else str(value))
        # a token that no placeholder matches: later rounds of `render` leave it alone
        return f"\x00{len(literals) - 1}\x00"

    def find(key: str) -> Any:
        if conf and (value := literal(_find(conf, key))) is not None:
            return value
        for scope in (task_variables, file_variables):
            if scope and (value := _find(scope, key)) is not None:
                return value
        if (value := literal(airflow_variable(key))) is not None:
            return value
        return literal(os.environ.get(key))

    rendered = render(f"{_OPEN} {name} {_CLOSE}", find)
    return _LITERAL.sub(lambda match: literals[int(match.group(1))], rendered)


# --- masking (Airflow's secrets masker) --------------------------------------------------------


def _secrets_masker() -> Any:
    try:  # Airflow 3
        from airflow.sdk.execution_time import secrets_masker
    except ImportError:  # Airflow 2
        from airflow.utils.log import secrets_masker  # type: ignore[attr-defined,no-redef]
    return secrets_masker


def is_secret_name(name: str) -> bool:
    """A name Airflow treats as sensitive (`password`, `token`, `secret`, `api_key`, ...; plus
    `[core] sensitive_var_conn_names`): its values are masked in logs and rendered fields."""
    return bool(_secrets_masker().should_hide_value_for_key(name))


def mask(value: Any, name: str | None = None) -> None:
    """Register `value` with Airflow's secrets masker (`name`: only when it is sensitive)."""
    _secrets_masker().mask_secret(value, name)


def redact(text: str) -> str:
    """`text` with every value registered with the secrets masker replaced by `***`."""
    try:
        return str(_secrets_masker().redact(text))
    except RuntimeError:  # logging not configured by Airflow: nothing was registered either
        return text


def mask_file_secrets(path: Path) -> None:
    """Mask a secret file's content: the whole text, each line, and each `key = value` value."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return
    mask(text)
    for line in text.splitlines():
        mask(line.strip())
        for separator in ("=", ":"):
            key, found, value = line.partition(separator)
            if found and key.strip() and value.strip():
                mask(value.strip())


# --- shell commands: run-time values as environment variables ----------------------------------

VALUE_ENV_PREFIX = "LIMINAL_VALUE_"
_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def shell_safe_command(command: str) -> tuple[str, dict[str, str]]:
    """A bash command whose template expressions reach it as environment variables.

    Each `{{ ... }}` expression in `command` (liminal placeholders after `rewrite`, and Airflow's
    own such as `{{ ds }}` or `{{ dag_run.conf['k'] }}`) is replaced by a reference to a new
    environment variable `LIMINAL_VALUE_<n>`, quoted for where it stands (`"${V}"` outside
    quotes, `${V}` inside double quotes, `'"${V}"'` inside single quotes), and the expression
    becomes that variable's value, which Airflow renders. A value such as `x; curl ...` is then
    one argument, never shell code. Returns the command and the variables to add to the task's
    environment. An expression is one word: to pass several arguments, write several.
    """
    if _OPEN not in command:
        return command, {}
    values: dict[str, str] = {}
    out: list[str] = []
    state = "plain"  # or "single", "double"
    i = 0
    while i < len(command):
        match = _EXPRESSION.match(command, i) if command.startswith(_OPEN, i) else None
        if match is not None:
            variable = f"{VALUE_ENV_PREFIX}{len(values)}"
            values[variable] = match.group(0)
            reference = {
                "plain": f'"${{{variable}}}"',
                "double": f"${{{variable}}}",
                "single": f"'\"${{{variable}}}\"'",
            }[state]
            out.append(reference)
            i = match.end()
            continue
        char = command[i]
        out.append(char)
        if state == "single":
            state = "plain" if char == "'" else state
        elif char == "\\" and i + 1 < len(command):
            out.append(command[i + 1])
            i += 1
        elif state == "plain" and char == "'":
            state = "single"
        elif char == '"':
            state = "double" if state == "plain" else "plain"
        i += 1
    return "".join(out), values


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
        if value != f"{_OPEN} {name} {_CLOSE}" and is_secret_name(name):
            mask(value)  # masked in the task's log and in the rendered fields Airflow stores
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
