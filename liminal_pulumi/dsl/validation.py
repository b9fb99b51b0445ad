"""Validating a normalized file against the model, with pydantic's errors located in liminal.yml."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from liminal_pulumi.dsl.diagnostics import Location, Reporter, suggest
from liminal_pulumi.dsl.model import LiminalFile
from liminal_pulumi.dsl.normalize import describe
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap

_EXPECTED = (
    ("bool", "true or false"),
    ("int", "a whole number"),
    ("float", "a number"),
    ("string", "text"),
    ("str", "text"),
    ("dict", "a mapping (`key: value` lines)"),
    ("model", "a mapping (`key: value` lines)"),
    ("list", "a list (`- ...` items)"),
    ("tuple", "a list (`- ...` items)"),
    ("datetime", "a date like 2024-01-31"),
    ("date", "a date like 2024-01-31"),
    ("path", "a path"),
)


def locate(data: Any, loc: tuple[int | str, ...]) -> tuple[Location, Any, Any]:
    """Where pydantic's `loc` points in the located data: (location, container, last key)."""
    current = data
    where = data.loc if isinstance(data, YamlMap) else Location()
    container: Any = None
    last: Any = None
    extra: list[int | str] = []
    for part in loc:
        if extra:
            extra.append(part)
            continue
        if isinstance(current, YamlMap):
            if isinstance(part, str) and part in current:
                container, last = current, part
                where = current.value_loc(part)
                current = current[part]
                continue
            if current.get("type") == part:  # a discriminated union's tag
                continue
            container, last = current, part
            extra.append(part)
        elif isinstance(current, YamlList) and isinstance(part, int) and part < len(current):
            container, last = current, part
            where = current.item_loc(part)
            current = current[part]
        else:
            extra.append(part)
    path = where.path + tuple(p for p in extra)
    return Location(where.file, where.line, where.column, path), container, last


def _expected(error_type: str) -> str | None:
    for prefix, text in _EXPECTED:
        if error_type.startswith(prefix):
            return text
    return None


def validate_file(data: YamlMap, reporter: Reporter) -> LiminalFile | None:
    """The model of one file, or None after reporting every problem pydantic found."""
    try:
        return LiminalFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            report_error(data, error, reporter)
        return None


def report_error(data: YamlMap, error: Any, reporter: Reporter) -> None:
    where, container, key = locate(data, tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        close = None
        if isinstance(container, YamlMap):
            where = Location(
                container.loc.file, container.loc.line, container.loc.column, where.path
            )
            near = container.get("default_args")
            if isinstance(near, dict):
                close = suggest(str(key), near)
        message = f"missing required key `{key}`"
        if close:
            message += f" (found `{close}`, a misspelling?)"
        reporter.error(where, message)
        return
    if kind == "extra_forbidden":
        if isinstance(container, YamlMap) and isinstance(key, str):
            where = container.key_loc(key)
        reporter.error(where, f"unknown key `{key}`")
        return
    expected = _expected(kind)
    if kind.endswith(("_type", "_parsing")) and expected:
        reporter.error(where, f"expected {expected}, got {describe(error.get('input'))}")
        return
    message = error["msg"]
    if kind in ("greater_than", "greater_than_equal"):
        message = f"must be {message.removeprefix('Input should be ')}, got {error.get('input')}"
    reporter.error(where, message[:1].lower() + message[1:])
