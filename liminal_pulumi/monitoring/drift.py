"""The drift check of a monitored service: logged request features against reference data.

`python -m liminal_pulumi.monitoring.drift --reference CSV --predictions DIR --out DIR ...` is the
drift pipeline's task (a pod on EKS in an image with `liminal-pulumi[monitoring]`, a local process
under `liminal run`). It

1. reads the reference CSV and the newest logged requests (`features` of calls answered < 400, at
   most `--max-rows`, none older than `--window-hours`) from the prediction logs;
2. tests each feature with Evidently's statistical test (`--stattest`, Evidently's name; default:
   Evidently's choice per column type and size, e.g. K-S for small numeric samples) at
   `--threshold` (default: the test's own), and calls the dataset drifted when the share of
   drifted features reaches `--drift-share` (Evidently's DataDriftPreset semantics);
3. writes `report.html` (Evidently's report) and `summary.json` into `--out`, atomically:
   {"status": "drift" | "no_drift" | "insufficient_data", "dataset_drift", "drift_share",
   "drifted_features", "features": {name: {"stattest", "score", "threshold", "drifted"}},
   "reference_rows", "current_rows", "time", ...};
4. publishes DriftShare, DatasetDrift, CurrentRows and per-feature DriftScore/Drifted (dimension
   Feature) to CloudWatch with `--cloudwatch` (best effort, as the pipelines' job metrics), and
   always prints them.

Exit status 0 whatever the verdict (drift is a finding for the alarms, not a failed run); 1 when the
reference cannot be read. Fewer than `--min-rows` logged rows: `insufficient_data`, no verdict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.serving.prediction_log import read_predictions

log = logging.getLogger("liminal.drift")

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
# Evidently reports usage to its authors unless told not to; a pipeline task must not phone home.
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")


@dataclass(frozen=True)
class DriftSettings:
    reference: Path
    predictions: Path
    out: Path
    name: str = "drift"  # the drift pipeline (CloudWatch dimension ApplicationName)
    stattest: str | None = None
    threshold: float | None = None
    drift_share: float = defaults.DRIFT_SHARE
    window_hours: float = defaults.DRIFT_WINDOW_HOURS
    max_rows: int = defaults.DRIFT_MAX_ROWS
    min_rows: int = defaults.DRIFT_MIN_ROWS
    features: tuple[str, ...] = ()
    namespace: str | None = None
    cloudwatch: bool = False
    region: str | None = None
    now: dt.datetime | None = field(default=None, compare=False)  # tests pin the clock


def recent_features(
    records: Iterable[Mapping[str, Any]], *, since: dt.datetime, max_rows: int
) -> list[dict[str, Any]]:
    """The `features` mappings of successful calls logged at or after `since`, newest last."""
    rows: list[tuple[str, dict[str, Any]]] = []
    cutoff = since.isoformat(timespec="milliseconds")
    for record in records:
        features = record.get("features")
        moment = record.get("time")
        status = record.get("status", 200)
        if not isinstance(features, dict) or not isinstance(moment, str):
            continue
        if not isinstance(status, int) or status >= 400 or moment < cutoff:
            continue
        rows.append((moment, features))
    rows.sort(key=lambda row: row[0])  # ISO-8601 UTC text sorts as time
    return [features for _, features in rows[-max_rows:]]


def _frames(reference: Any, rows: list[dict[str, Any]], wanted: Sequence[str]) -> tuple[Any, Any]:
    """The reference and current data on the features both hold; current columns get the
    reference column's kind (numbers sent as JSON text, `"2.1"`, are numbers)."""
    import pandas as pd

    current = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    columns = [c for c in (wanted or reference.columns) if c in reference.columns]
    columns = [c for c in columns if c in current.columns] if rows else columns
    current = current.reindex(columns=columns)
    for column in columns:
        if pd.api.types.is_numeric_dtype(reference[column]):
            current[column] = pd.to_numeric(current[column], errors="coerce")
        else:
            current[column] = current[column].astype("string")
    return reference[columns], current


def compare(reference: Any, current: Any, settings: DriftSettings) -> tuple[dict[str, Any], Any]:
    """Per-feature tests and the dataset verdict (summary fields), and Evidently's snapshot."""
    from evidently import Report
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

    features: dict[str, dict[str, Any]] = {}
    for column in reference.columns:
        ref = reference[column].dropna()
        cur = current[column].dropna()
        kind = ColumnType.Numerical if ref.dtype.kind in "fiu" else ColumnType.Categorical
        test = get_stattest(ref, cur, kind, settings.stattest)
        result = test(ref, cur, kind, settings.threshold)
        features[column] = {
            "stattest": test.name,
            "score": float(result.drift_score),
            "threshold": float(result.actual_threshold),
            "drifted": bool(result.drifted),
            "current_rows": int(len(cur)),
        }
    drifted = sorted(name for name, f in features.items() if f["drifted"])
    share = len(drifted) / len(features) if features else 0.0
    preset = DataDriftPreset(
        columns=list(reference.columns),
        drift_share=settings.drift_share,
        method=settings.stattest,
        threshold=settings.threshold,
    )
    snapshot = Report([preset]).run(current_data=current, reference_data=reference)
    verdict = {
        "dataset_drift": bool(features) and share >= settings.drift_share,
        "drift_share": share,
        "drifted_features": drifted,
        "features": features,
    }
    return verdict, snapshot


def run_check(settings: DriftSettings) -> dict[str, Any]:
    """Everything but publishing: the summary, with report.html and summary.json written."""
    import pandas as pd

    now = settings.now or dt.datetime.now(dt.UTC)
    reference = pd.read_csv(settings.reference)
    since = now - dt.timedelta(hours=settings.window_hours)
    rows = recent_features(
        read_predictions(settings.predictions), since=since, max_rows=settings.max_rows
    )
    ref, current = _frames(reference, rows, settings.features)
    summary: dict[str, Any] = {
        "time": now.isoformat(timespec="seconds"),
        "pipeline": settings.name,
        "reference": str(settings.reference),
        "predictions": str(settings.predictions),
        "reference_rows": int(len(ref)),
        "current_rows": int(len(current)),
        "window_hours": settings.window_hours,
        "drift_share_threshold": settings.drift_share,
        "stattest": settings.stattest,
        "threshold": settings.threshold,
        "report": None,
    }
    settings.out.mkdir(parents=True, exist_ok=True)
    if len(ref.columns) == 0:
        summary |= {
            "status": "insufficient_data",
            "reason": "no feature is in both the reference and the logged requests",
        }
    elif len(current) < settings.min_rows:
        summary |= {
            "status": "insufficient_data",
            "reason": f"{len(current)} logged requests "
            f"in the window, fewer than min_rows={settings.min_rows}",
        }
    else:
        verdict, snapshot = compare(ref, current, settings)
        summary |= verdict
        summary["status"] = "drift" if verdict["dataset_drift"] else "no_drift"
        _write_atomically(settings.out / REPORT_FILE, lambda path: snapshot.save_html(str(path)))
        summary["report"] = str(settings.out / REPORT_FILE)
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    _write_atomically(settings.out / SUMMARY_FILE, lambda path: path.write_text(text))
    return summary


def _write_atomically(target: Path, write: Any) -> None:
    """Readers (`liminal monitor`, a dashboard) never see a half-written file."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def metric_values(summary: Mapping[str, Any]) -> list[tuple[str, float, dict[str, str]]]:
    """(metric name, value, extra dimensions) of a summary; nothing without a verdict."""
    values: list[tuple[str, float, dict[str, str]]] = [
        ("CurrentRows", float(summary.get("current_rows", 0)), {})
    ]
    if summary.get("status") not in ("drift", "no_drift"):
        return values
    values += [
        ("DriftShare", float(summary["drift_share"]), {}),
        ("DatasetDrift", 1.0 if summary["dataset_drift"] else 0.0, {}),
    ]
    for name, feature in sorted(summary["features"].items()):
        values.append(("DriftScore", float(feature["score"]), {"Feature": name}))
        values.append(("Drifted", 1.0 if feature["drifted"] else 0.0, {"Feature": name}))
    return values


def publish(summary: Mapping[str, Any], settings: DriftSettings) -> None:
    """Print the metrics; send them to CloudWatch too with `cloudwatch` (best effort)."""
    values = metric_values(summary)
    for name, value, dimensions in values:
        extra = "".join(f" {k}={v}" for k, v in dimensions.items())
        print(f"metric {name}{extra} = {value:g}")
    if not settings.cloudwatch:
        return
    try:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=defaults.METRICS_TIMEOUT_SECONDS,
            read_timeout=defaults.METRICS_TIMEOUT_SECONDS,
            retries={"total_max_attempts": defaults.METRICS_ATTEMPTS, "mode": "standard"},
        )
        client = boto3.client("cloudwatch", region_name=settings.region, config=config)
        pipeline = {"Name": defaults.CLOUDWATCH_DIMENSION, "Value": settings.name}
        now = dt.datetime.now(dt.UTC)
        data = [
            {
                "MetricName": name,
                "Dimensions": [pipeline, *({"Name": k, "Value": v} for k, v in dims.items())],
                "Timestamp": now,
                "Value": value,
                "Unit": "Count" if name == "CurrentRows" else "None",
            }
            for name, value, dims in values
        ]
        # PutMetricData takes up to 1,000 values per call (CloudWatch API reference).
        for start in range(0, len(data), 1000):
            client.put_metric_data(
                Namespace=settings.namespace or defaults.DAG_TAG,
                MetricData=data[start : start + 1000],
            )
    except Exception as error:  # credentials, permissions, network: a warning, as job metrics
        print(f"warning: drift metrics not sent to CloudWatch: {error}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m liminal_pulumi.monitoring.drift",
        description="Compare a service's logged requests with its reference data.",
    )
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--predictions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="drift")
    parser.add_argument("--stattest")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--drift-share", type=float, default=defaults.DRIFT_SHARE)
    parser.add_argument("--window-hours", type=float, default=defaults.DRIFT_WINDOW_HOURS)
    parser.add_argument("--max-rows", type=int, default=defaults.DRIFT_MAX_ROWS)
    parser.add_argument("--min-rows", type=int, default=defaults.DRIFT_MIN_ROWS)
    parser.add_argument("--features", default="", help="comma-separated; default: all shared")
    parser.add_argument("--namespace")
    parser.add_argument("--cloudwatch", action="store_true")
    parser.add_argument("--region")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = DriftSettings(
        reference=args.reference,
        predictions=args.predictions,
        out=args.out,
        name=args.name,
        stattest=args.stattest,
        threshold=args.threshold,
        drift_share=args.drift_share,
        window_hours=args.window_hours,
        max_rows=args.max_rows,
        min_rows=args.min_rows,
        features=tuple(f for f in args.features.split(",") if f),
        namespace=args.namespace,
        cloudwatch=args.cloudwatch,
        region=args.region,
    )
    if not settings.reference.is_file():
        print(
            f"drift check: no reference data at {settings.reference}; the task that trains the "
            "model should write it (a CSV with one column per feature)",
            file=sys.stderr,
        )
        return 1
    try:
        summary = run_check(settings)
    except (ValueError, OSError) as error:  # an unreadable CSV, a full disk
        print(f"drift check: {error}", file=sys.stderr)
        return 1
    print(f"drift check {settings.name}: {summary['status']}", end="")
    if summary["status"] == "insufficient_data":
        print(f" ({summary['reason']})")
    else:
        drifted = ", ".join(summary["drifted_features"]) or "none"
        print(
            f"; drift share {summary['drift_share']:.2f} (threshold "
            f"{settings.drift_share:.2f}); drifted features: {drifted}; "
            f"{summary['current_rows']} requests vs {summary['reference_rows']} reference rows"
        )
        print(f"report: {summary['report']}")
    publish(summary, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
