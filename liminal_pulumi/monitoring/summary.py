"""`liminal monitor PATH [--service S]`: what a monitored service's logs and last drift check say.

Reads the local model store (`liminal serve` writes the prediction logs there, `liminal run` the
drift reports): requests, error rate, latency percentiles and requests per model version from
the prediction logs (all of them, or the last `hours`), and the last drift summary with the path
of its HTML report. Needs no pandas nor Evidently.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_pulumi.dsl.model import Monitoring, Project, Service
from liminal_pulumi.monitoring.drift import REPORT_FILE, SUMMARY_FILE
from liminal_pulumi.monitoring.paths import drift_dir, predictions_dir
from liminal_pulumi.serving.prediction_log import read_predictions


class MonitorError(Exception):
    """A project or option that cannot be summarised; the message says why."""


@dataclass
class ServiceSummary:
    service: str
    predictions: Path
    drift: Path
    requests: int = 0
    server_errors: int = 0
    client_errors: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p99, max
    versions: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    drift_summary: dict[str, Any] | None = None

    @property
    def error_rate(self) -> float:
        return self.server_errors / self.requests if self.requests else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def local_path(project: Project, service: Service, container_path: str) -> Path:
    """`container_path` (on one of the service's mounts) as the local folder standing for it."""
    from liminal_pulumi.local.run import rewrite_mount_paths
    from liminal_pulumi.local.serve import mount_folders

    folders = {path: str(folder) for path, folder in mount_folders(project, service).items()}
    return Path(rewrite_mount_paths(container_path, folders))


def summarise(
    project: Project,
    service: Service,
    monitoring: Monitoring,
    *,
    hours: float | None = None,
    now: dt.datetime | None = None,
) -> ServiceSummary:
    folder = local_path(project, service, predictions_dir(monitoring))
    reports = local_path(project, service, drift_dir(monitoring))
    summary = ServiceSummary(service.service, folder, reports)
    cutoff = None
    if hours is not None:
        since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=hours)
        cutoff = since.isoformat(timespec="milliseconds")
    latencies: list[float] = []
    versions: Counter[str] = Counter()
    for record in read_predictions(folder):
        moment = record.get("time")
        if not isinstance(moment, str) or (cutoff is not None and moment < cutoff):
            continue
        summary.requests += 1
        status = record.get("status")
        if isinstance(status, int):
            summary.server_errors += status >= 500
            summary.client_errors += 400 <= status < 500
        latency = record.get("latency_ms")
        if isinstance(latency, int | float):
            latencies.append(float(latency))
        versions[str(record.get("model_version"))] += 1
        summary.first = moment if summary.first is None else min(summary.first, moment)
        summary.last = moment if summary.last is None else max(summary.last, moment)
    latencies.sort()
    if latencies:
        summary.latency_ms = {
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1],
        }
    summary.versions = dict(versions.most_common())
    try:
        summary.drift_summary = json.loads((reports / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        summary.drift_summary = None
    return summary


def render(summary: ServiceSummary) -> str:
    """The text `liminal monitor` prints for one service."""
    lines = [f"service {summary.service}"]
    if summary.requests == 0:
        lines.append(f"  requests: none logged yet in {summary.predictions}")
    else:
        lines.append(
            f"  requests: {summary.requests} logged ({summary.first} .. {summary.last}) "
            f"in {summary.predictions}"
        )
        lines.append(
            f"  error rate: {summary.error_rate:.2%} ({summary.server_errors} server errors, "
            f"{summary.client_errors} client errors)"
        )
        if summary.latency_ms:
            parts = ", ".join(f"{k} {v:.2f} ms" for k, v in summary.latency_ms.items())
            lines.append(f"  latency: {parts}")
        versions = ", ".join(f"{v}: {n}" for v, n in summary.versions.items())
        lines.append(f"  model versions: {versions}")
    drift = summary.drift_summary
    if drift is None:
        lines.append(f"  drift: no report yet in {summary.drift} (run the drift pipeline)")
        return "\n".join(lines)
    status = drift.get("status")
    head = f"  drift ({drift.get('time')}): {status}"
    if status == "insufficient_data":
        lines.append(f"{head} - {drift.get('reason')}")
        return "\n".join(lines)
    lines.append(
        f"{head}, drift share {drift.get('drift_share', 0):.2f} (dataset drift at "
        f"{drift.get('drift_share_threshold', 0):.2f}), {drift.get('current_rows')} requests vs "
        f"{drift.get('reference_rows')} reference rows"
    )
    for name, feature in sorted(drift.get("features", {}).items()):
        verdict = "DRIFT" if feature.get("drifted") else "ok"
        lines.append(
            f"    {name:<24} {verdict:<5} {feature.get('stattest')} "
            f"score {feature.get('score', math.nan):.4g} (threshold {feature.get('threshold')})"
        )
    lines.append(f"  report: {summary.drift / REPORT_FILE}")
    return "\n".join(lines)


def monitored(project: Project, name: str | None) -> list[tuple[Service, Monitoring]]:
    services = [(s, m) for _, s, m in project.monitored_services()]
    if not services:
        raise MonitorError(
            f"{project.root}: no service has a `monitoring` section; add one to a service in "
            "liminal.yml (see the README's Monitoring section)"
        )
    if name is None:
        return services
    chosen = [(s, m) for s, m in services if s.service == name]
    if not chosen:
        names = ", ".join(s.service for s, _ in services)
        raise MonitorError(f"{project.root}: no monitored service {name!r}; monitored: {names}")
    return chosen
