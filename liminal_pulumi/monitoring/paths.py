"""Where a monitored service's logs and drift reports are, as the containers see them.

Imported by the DAG loader (through `drift_plan`): nothing here may import the server, pandas or
the local runner.
"""

from __future__ import annotations

import posixpath

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Monitoring


def predictions_dir(monitoring: Monitoring) -> str:
    """The prediction logs' folder as the server and the drift task see it."""
    return posixpath.join(monitoring.path, defaults.PREDICTIONS_DIR)


def drift_dir(monitoring: Monitoring) -> str:
    """The drift reports' folder (report.html, summary.json) as the drift task sees it."""
    return posixpath.join(monitoring.path, defaults.DRIFT_DIR)
