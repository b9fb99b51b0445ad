"""Checking `schedule` values: five-field cron expressions and Airflow's presets."""

from __future__ import annotations

import re

PRESETS = frozenset(
    {
        "@once",
        "@continuous",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@quarterly",
        "@yearly",
        "@annually",
        "@midnight",
    }
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (field name, lowest, highest, names for values starting at `lowest`)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_PART = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid schedule, or None when it is."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in PRESETS:
            return None
        return f"unknown preset `{text}`; expected one of {', '.join(sorted(PRESETS))}"
    fields = text.split()
    if len(fields) != len(_FIELDS):
        return (
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        problem = _field_problem(value.lower(), low, high, names)
        if problem:
            return f"{name} field `{value}`: {problem}"
    return None


def _field_problem(value: str, low: int, high: int, names: list[str]) -> str | None:
    for part in value.split(","):
        match = _PART.match(part)
        if not match:
            return f"`{part}` is not a number, range, list or step"
        star, start, end, step = match.groups()
        if step is not None and int(step) == 0:
            return "a step must be at least 1"
        if star:
            continue
        bounds = [_number(x, low, names) for x in (start, end) if x is not None]
        numbers = [b for b in bounds if b is not None]
        if len(numbers) != len(bounds):
            return f"`{part}` is not a number between {low} and {high}"
        if any(not low <= b <= high for b in numbers):
            return f"values must lie between {low} and {high}"
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            return f"range `{part}` runs backwards"
    return None


def _number(text: str, low: int, names: list[str]) -> int | None:
    if text.isdigit():
        return int(text)
    if text in names:
        return names.index(text) + low
    return None
