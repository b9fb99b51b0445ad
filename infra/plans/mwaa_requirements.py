"""The `requirements.txt` MWAA installs, pinned by the chosen Airflow version's constraints.

Only packages built for Airflow (the cncf-kubernetes provider the loader's pod operator comes
from) are listed; the loader's own code (`liminal_pulumi`, its model and DAG builder) travels
in the dags folder instead, so the environment never needs an index for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from liminal_pulumi import defaults


def mwaa_python_version(airflow_version: str) -> str:
    try:
        return defaults.MWAA_PYTHON_BY_AIRFLOW_VERSION[airflow_version]
    except KeyError:
        known = ", ".join(sorted(defaults.MWAA_PYTHON_BY_AIRFLOW_VERSION))
        raise ValueError(
            f"Airflow version {airflow_version!r} is not offered by MWAA here: use one of {known}"
        ) from None


def constraints_url(airflow_version: str) -> str:
    return defaults.AIRFLOW_CONSTRAINTS_URL.format(
        airflow_version=airflow_version, python_version=mwaa_python_version(airflow_version)
    )


def requirements_txt(
    airflow_version: str, packages: Sequence[str] = defaults.MWAA_EXTRA_REQUIREMENTS
) -> str:
    lines = [f'--constraint "{constraints_url(airflow_version)}"', *sorted(set(packages))]
    return "\n".join(lines) + "\n"
