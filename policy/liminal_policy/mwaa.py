"""Amazon MWAA: private web server, all five log types, pinned requirements and plugins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import mapping

LOG_TYPES = ("dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs", "workerLogs")


def check_environment(props: Mapping[str, Any]) -> list[str]:
    problems = []
    # Unset means PRIVATE_ONLY on the AWS side; only an explicit PUBLIC_ONLY opens the web server.
    access_mode = props.get("webserverAccessMode")
    if access_mode not in (None, "PRIVATE_ONLY"):
        problems.append(f"the Airflow web server must be PRIVATE_ONLY, not {access_mode!r}")
    logging = mapping(props.get("loggingConfiguration"))
    disabled = [kind for kind in LOG_TYPES if mapping(logging.get(kind)).get("enabled") is not True]
    if disabled:
        problems.append(f"all five MWAA log types must be enabled; off: {', '.join(disabled)}")
    # Without the object version MWAA silently keeps running the previous file.
    for path_key, version_key in (
        ("requirementsS3Path", "requirementsS3ObjectVersion"),
        ("pluginsS3Path", "pluginsS3ObjectVersion"),
    ):
        if props.get(path_key) and not props.get(version_key):
            problems.append(f"{path_key} is set without {version_key}: updates would be ignored")
    return problems
