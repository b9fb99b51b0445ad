"""A service's `monitoring` section as written -> the shapes of `model.Monitoring`, checked.

Called by `FileNormalizer.service` after `service_defaults` were merged in (so a parent file can
turn monitoring on for every service, and a child turn it off with `monitoring: false`). Short
forms are expanded (`monitoring: true`, `prediction_log: false`, `alerts: true`), `path` gets
its default under the service's first mount, and what the model alone would explain badly is
reported where it was written: unknown keys (with the nearest valid one), paths off the
service's volumes, a drift check without logged features, a malformed subscriber.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, get_args

from liminal_pulumi import defaults
from liminal_pulumi.dsl import model
from liminal_pulumi.dsl.diagnostics import suggest
from liminal_pulumi.dsl.yaml_source import YamlList, YamlMap

if TYPE_CHECKING:
    from liminal_pulumi.dsl.normalize import FileNormalizer

STAT_TESTS: tuple[str, ...] = get_args(model.DriftStatTest)
PREDICTION_FIELDS: tuple[str, ...] = get_args(model.PredictionField)
# Loose on purpose: SNS sends a confirmation mail, which is the real check.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _keys(cls: type[model.Model]) -> set[str]:
    return set(cls.model_fields)


def _expand(
    normalizer: FileNormalizer, parent: YamlMap, key: str, what: str
) -> YamlMap | None | bool:
    """`parent[key]` as a mapping; `true` -> {} ; `false`/null -> False (off); else None after
    reporting."""
    value = parent[key]
    if value is None or value is False:
        return False
    if value is True:
        return YamlMap(loc=parent.value_loc(key))
    return normalizer.mapping(value, parent.value_loc(key), what)


def _mount_paths(service: YamlMap) -> list[str]:
    mounts = service.get("mounts")
    if not isinstance(mounts, list):
        return []
    return [
        m["path"].rstrip("/") or "/"
        for m in mounts
        if isinstance(m, Mapping) and isinstance(m.get("path"), str) and m["path"].startswith("/")
    ]


def _on_a_mount(path: str, mounts: list[str]) -> bool:
    normal = posixpath.normpath(path)
    return any(normal == m or normal.startswith(m.rstrip("/") + "/") for m in mounts)


def normalize_monitoring(normalizer: FileNormalizer, service: YamlMap) -> None:
    """Replace `service["monitoring"]` by its model shape, or drop it (not monitored)."""
    if "monitoring" not in service:
        return
    section = _expand(normalizer, service, "monitoring", "`monitoring`")
    if not isinstance(section, YamlMap):
        service.pop("monitoring")
        return
    monitoring = normalizer.only_keys(section, _keys(model.Monitoring), "`monitoring`")
    mounts = _mount_paths(service)
    name = service.get("service")
    if "path" in monitoring:
        path = monitoring["path"]
        where = monitoring.value_loc("path")
        if not isinstance(path, str) or not path.startswith("/"):
            normalizer.error(where, "`monitoring.path` must be an absolute path on a mount")
        elif not _on_a_mount(path, mounts):
            normalizer.error(
                where,
                f"`monitoring.path` {path} is on none of the service's mounts "
                f"({', '.join(mounts) or 'it has none'}); logs must reach the model store, "
                "where the drift pipeline reads them",
            )
        else:
            monitoring["path"] = posixpath.normpath(path)
    elif mounts and isinstance(name, str):
        monitoring.put("path", posixpath.join(mounts[0], defaults.MONITORING_DIR, name))
    else:
        normalizer.error(
            service.key_loc("monitoring"),
            "`monitoring` needs a place for prediction logs and reports: mount a volume on the "
            "service (the model store) or set `monitoring.path` on one of its mounts",
        )
    log_enabled, log_fields = _prediction_log(normalizer, monitoring)
    if "drift" in monitoring:
        _drift(normalizer, monitoring, mounts, log_enabled, log_fields)
    if "alerts" in monitoring:
        _alerts(normalizer, monitoring)
    service.put("monitoring", monitoring, service)


def _prediction_log(normalizer: FileNormalizer, monitoring: YamlMap) -> tuple[bool, list[str]]:
    """Normalizes `prediction_log`; returns whether it is on and the fields it logs."""
    default_fields: list[str] = list(defaults.PREDICTION_LOG_FIELDS)
    if "prediction_log" not in monitoring:
        return True, default_fields
    value = monitoring["prediction_log"]
    if isinstance(value, bool):
        monitoring.put("prediction_log", YamlMap({"enabled": value}), monitoring)
        return value, default_fields
    section = _expand(normalizer, monitoring, "prediction_log", "`monitoring.prediction_log`")
    if not isinstance(section, YamlMap):
        monitoring.pop("prediction_log")
        return section is not False, default_fields
    log = normalizer.only_keys(section, _keys(model.PredictionLog), "`monitoring.prediction_log`")
    fields = log.get("fields", default_fields)
    if isinstance(fields, str):
        fields = YamlList([fields], loc=log.value_loc("fields"))
        log.put("fields", fields, log)
    if isinstance(fields, YamlList):
        for index, field in enumerate(fields):
            if field not in PREDICTION_FIELDS:
                normalizer.error(
                    fields.item_loc(index),
                    f"unknown prediction_log field `{field}`; expected one of "
                    f"{', '.join(PREDICTION_FIELDS)}",
                    suggest(field, PREDICTION_FIELDS),
                )
    monitoring.put("prediction_log", log, monitoring)
    enabled = log.get("enabled", True)
    return enabled is not False, list(fields) if isinstance(fields, list) else default_fields


def _drift(
    normalizer: FileNormalizer,
    monitoring: YamlMap,
    mounts: list[str],
    log_enabled: bool,
    log_fields: list[str],
) -> None:
    section = _expand(normalizer, monitoring, "drift", "`monitoring.drift`")
    if not isinstance(section, YamlMap):
        monitoring.pop("drift")
        return
    drift = normalizer.only_keys(section, _keys(model.Drift), "`monitoring.drift`")
    if "reference" not in drift:
        normalizer.error(
            monitoring.key_loc("drift"),
            "`monitoring.drift` needs `reference`: the path of a CSV of reference data on one of "
            "the service's mounts (for example written by the training task into the model store)",
        )
    else:
        reference = drift["reference"]
        if isinstance(reference, str) and not _on_a_mount(reference, mounts):
            normalizer.error(
                drift.value_loc("reference"),
                f"`reference` {reference} is on none of the service's mounts "
                f"({', '.join(mounts) or 'it has none'}); the drift task mounts the service's "
                "volumes to read it",
            )
    if "stattest" in drift:
        test = drift["stattest"]
        if test is not None and test not in STAT_TESTS:
            normalizer.error(
                drift.value_loc("stattest"),
                f"unknown drift `stattest` `{test}`; expected one of {', '.join(STAT_TESTS)}",
                suggest(test, STAT_TESTS),
            )
            drift.pop("stattest")
    if isinstance(drift.get("features"), str):
        drift.put("features", [drift["features"]], drift)
    if "schedule" not in drift:
        drift.put("schedule", defaults.DRIFT_SCHEDULE)
    normalizer.check_schedule(drift)
    if not log_enabled or "features" not in log_fields:
        normalizer.error(
            monitoring.key_loc("drift"),
            "`monitoring.drift` compares logged request features with the reference: it needs "
            "`prediction_log` enabled with `features` in its `fields`",
        )
    monitoring.put("drift", drift, monitoring)


def _alerts(normalizer: FileNormalizer, monitoring: YamlMap) -> None:
    section = _expand(normalizer, monitoring, "alerts", "`monitoring.alerts`")
    if not isinstance(section, YamlMap):
        monitoring.pop("alerts")
        return
    alerts = normalizer.only_keys(section, _keys(model.Alerts), "`monitoring.alerts`")
    if "notify" in alerts:
        notify_value = _expand(normalizer, alerts, "notify", "`notify`")
        if isinstance(notify_value, YamlMap):
            notify = normalizer.only_keys(notify_value, _keys(model.Notify), "`notify`")
            for key, valid, expected in (
                ("email", _EMAIL.match, "an e-mail address"),
                ("https", lambda v: v.startswith("https://") and len(v) > 8, "an https:// URL"),
            ):
                if key not in notify:
                    continue
                if isinstance(notify[key], str):
                    notify.put(key, YamlList([notify[key]], loc=notify.value_loc(key)), notify)
                targets = notify[key]
                if not isinstance(targets, YamlList):
                    continue  # the model reports the wrong type
                for index, target in enumerate(targets):
                    if isinstance(target, str) and not valid(target):
                        normalizer.error(
                            targets.item_loc(index),
                            f"`notify.{key}` entry `{target}` is not {expected}",
                        )
            alerts.put("notify", notify, alerts)
        else:
            alerts.pop("notify")
    monitoring.put("alerts", alerts, monitoring)
