"""Checking `schedule` values with Airflow's own judge: croniter, after Airflow's presets.

Airflow (2.11 and 3.0, `airflow.timetables._cron.CronMixin`) maps its presets
(`airflow.utils.dates.cron_presets`) to cron and hands the expression to croniter; `@once` and
`@continuous` are timetables of their own. This does the same without importing Airflow, and also
refuses an expression that can never fire (`0 0 30 2 *`, the 30th of February), which Airflow
accepts and then never schedules.
"""

from __future__ import annotations

import datetime as dt
import functools

from croniter import CroniterBadDateError, CroniterError, croniter

# airflow.utils.dates.cron_presets (identical in 2.11 and 3.0.6)
AIRFLOW_CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
TIMETABLE_PRESETS = frozenset({"@once", "@continuous"})
PRESETS = frozenset(AIRFLOW_CRON_PRESETS) | TIMETABLE_PRESETS
# croniter searches this far for the next run (its `max_years_between_matches`); a leap day
# (`0 0 29 2 *`) fires within 8 years.
_SEARCH_YEARS = 8
_FROM = dt.datetime(2024, 1, 1)
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_ALLOWED = ("0-59", "0-23", "1-31", "1-12 or jan-dec", "0-7 or sun-sat")


@functools.lru_cache(maxsize=4096)  # projects repeat a few schedules over many pipelines
def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a schedule Airflow runs, or None when it is."""
    text = expression.strip()
    if text in TIMETABLE_PRESETS:
        return None
    cron = AIRFLOW_CRON_PRESETS.get(text, text)
    if cron.startswith("@"):  # croniter's own aliases (`@midnight`, `@annually`) also run
        if not croniter.is_valid(cron):
            return f"unknown preset `{text}`; Airflow's presets are {', '.join(sorted(PRESETS))}"
    elif len(cron.split()) != 5:
        return (
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(cron.split())}"
        )
    try:
        schedule = croniter(cron, _FROM, max_years_between_matches=_SEARCH_YEARS)
    except (CroniterError, ValueError, KeyError) as error:  # KeyError: croniter on odd input
        return _field_at_fault(cron) or f"croniter cannot read it ({error})"
    try:
        schedule.get_next(dt.datetime)
    except CroniterBadDateError:
        return "it never fires: no date matches every field (e.g. the 30th of February)"
    return None


def _field_at_fault(cron: str) -> str | None:
    """Which field croniter refuses: each one tried alone, the others `*`."""
    fields = cron.split()
    for index, (name, allowed) in enumerate(zip(_FIELDS, _ALLOWED, strict=True)):
        alone = ["*"] * 5
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            return (
                f"{name} field `{fields[index]}` is not valid (allowed: {allowed}, lists, "
                "ranges and */steps)"
            )
    return None
