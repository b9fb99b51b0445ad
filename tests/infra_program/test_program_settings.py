"""Stack settings: defaults, per-stack files, and errors that name the config key."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
from pathlib import Path

import pytest
from stack_settings import (
    SettingsError,
    StackSettings,
    kubernetes_support_warnings,
    read_settings,
    settings_from_config,
)

from liminal_pulumi import defaults
from liminal_pulumi.offline_plan import read_project, stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_secure_and_come_from_defaults_module() -> None:
    settings = settings_from_config({})
    assert settings.airflow_version == defaults.AIRFLOW_VERSION
    assert settings.project == defaults.STACK_PROJECT
    assert settings.endpoint_public_access is False
    assert settings.service_exposure == "cluster_ip"
    assert settings.promote_from is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("liminal:natStrategy", "everywhere"),
        ("liminal:airflowVersion", "2.7.0"),
        ("liminal:mwaaEnvironmentClass", "mw1.huge"),
        ("liminal:nodeInstanceTypes", '["large"]'),
        ("liminal:nodeInstanceTypes", "[]"),
        ("liminal:vpcCidr", "8.8.0.0/16"),
        ("liminal:vpcCidr", "10.0.0.0/8"),
        ("liminal:serviceExposure", "nodeport"),
        ("liminal:mwaaMinWorkers", "many"),
        ("liminal:kubernetesVersion", "latest"),
        ("liminal:protect", "perhaps"),
        ("liminal:natStrateg", "single"),
    ],
)
def test_a_bad_setting_is_named_in_the_error(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_config({key: value})
    assert key in str(caught.value)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"liminal:mwaaMinWorkers": "3", "liminal:mwaaMaxWorkers": "2"}, "liminal:mwaaMaxWorkers"),
        ({"liminal:nodeMinSize": "3", "liminal:nodeDesiredSize": "2"}, "liminal:nodeDesiredSize"),
        ({"liminal:endpointPublicAccess": "true"}, "liminal:publicAccessCidrs"),
        (
            {"liminal:endpointPublicAccess": "true", "liminal:publicAccessCidrs": '["0.0.0.0/0"]'},
            "liminal:publicAccessCidrs",
        ),
        ({"liminal:region": "eu-west-1", "aws:region": "us-east-1"}, "liminal:region"),
    ],
)
def test_inconsistent_settings_name_the_key(config: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_config(config)
    assert key in str(caught.value)


def test_config_values_are_decoded_like_the_engine_hands_them() -> None:
    settings = settings_from_config(
        {
            "liminal:kubernetesVersion": "1.31",
            "liminal:nodeInstanceTypes": '["m6i.large", "m5.large"]',
            "liminal:protect": "true",
            "liminal:nodeMaxSize": "5",
            "aws:region": "eu-west-1",
        }
    )
    assert settings.kubernetes_version == "1.31"
    assert settings.node_instance_types == ("m6i.large", "m5.large")
    assert settings.protect is True
    assert settings.node_max_size == 5
    assert settings.region == "eu-west-1"


def test_stack_files_differ_as_environments_should() -> None:
    dev = settings_from_config(stack_config(read_project(REPO_ROOT), "dev"))
    staging = settings_from_config(stack_config(read_project(REPO_ROOT), "staging"))
    prod = settings_from_config(stack_config(read_project(REPO_ROOT), "prod"))
    assert (dev.nat_strategy, prod.nat_strategy) == ("single", "per_az")
    assert not dev.protect and not staging.protect and prod.protect
    assert dev.endpoint_public_access and dev.public_access_cidrs
    assert not staging.endpoint_public_access and not prod.endpoint_public_access
    assert prod.promote_from == "staging"
    assert dev.promote_from is None
    assert dev.node_max_size < staging.node_max_size < prod.node_max_size
    assert prod.node_min_size >= 2 and prod.mwaa_min_workers >= 2
    assert prod.az_count >= dev.az_count
    assert len({dev.vpc_cidr, staging.vpc_cidr, prod.vpc_cidr}) == 3


# --- Kubernetes version against the EKS release calendar, on fixed days ----------------------

# The day this check was written: 1.33's standard support had ended (2026-07-29), 1.34's ends
# the next day, 1.35's on 2027-03-27 (EKS user guide, "Amazon EKS Kubernetes release calendar").
WRITTEN_ON = dt.date(2026, 12, 1)


def _k8s(version: str, *, protect: bool = False) -> StackSettings:
    return settings_from_config(
        {"liminal:kubernetesVersion": version, "liminal:protect": json.dumps(protect)}
    )


def test_default_and_stack_versions_are_in_standard_support_when_written() -> None:
    assert defaults.KUBERNETES_VERSION == "1.35"
    assert kubernetes_support_warnings(settings_from_config({}), WRITTEN_ON) == []
    for stack in ("dev", "staging", "prod"):
        settings = settings_from_config(stack_config(read_project(REPO_ROOT), stack))
        assert settings.kubernetes_version == defaults.KUBERNETES_VERSION, stack
        assert kubernetes_support_warnings(settings, WRITTEN_ON) == [], stack


def test_calendar_pins_the_eks_dates() -> None:
    calendar = defaults.EKS_KUBERNETES_CALENDAR
    assert calendar["1.33"] == (dt.date(2025, 5, 29), dt.date(2026, 7, 29), dt.date(2027, 7, 29))
    assert calendar["1.34"] == (dt.date(2025, 10, 2), dt.date(2026, 12, 2), dt.date(2027, 12, 2))
    assert calendar["1.35"] == (dt.date(2026, 1, 27), dt.date(2027, 3, 27), dt.date(2028, 3, 27))


def test_last_day_of_standard_support_passes_in_any_stack() -> None:
    for protect in (False, True):
        assert (
            kubernetes_support_warnings(_k8s("1.33", protect=protect), dt.date(2026, 7, 28)) == []
        )


def test_past_standard_support_warns_in_dev() -> None:
    (warning,) = kubernetes_support_warnings(_k8s("1.33"), dt.date(2026, 7, 29))
    assert warning.startswith("liminal:kubernetesVersion: ")
    assert "2026-07-29" in warning and "extended support" in warning


def test_past_standard_support_fails_in_prod() -> None:
    with pytest.raises(SettingsError) as caught:
        kubernetes_support_warnings(_k8s("1.33", protect=True), WRITTEN_ON)
    (problem,) = caught.value.problems
    assert problem.startswith("liminal:kubernetesVersion: ")
    assert "2026-07-29" in problem


@pytest.mark.parametrize(
    ("version", "day", "message"),
    [
        (
            "1.31",
            dt.date(2026, 11, 26),
            "extended support of Kubernetes 1.31 .* ended on 2026-11-26",
        ),
        ("1.28", WRITTEN_ON, "no longer offers Kubernetes 1.28"),
        ("1.35", dt.date(2026, 1, 26), "offers Kubernetes 1.35 from 2026-01-27"),
    ],
)
def test_versions_eks_cannot_create_fail_in_every_stack(
    version: str, day: dt.date, message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        kubernetes_support_warnings(_k8s(version), day)
    assert "liminal:kubernetesVersion" in str(caught.value)


def test_a_version_newer_than_the_calendar_warns_that_its_dates_are_unknown() -> None:
    (warning,) = kubernetes_support_warnings(_k8s("1.36", protect=True), WRITTEN_ON)
    assert "newer than the EKS release calendar" in warning


def _read_in_stack(config: dict[str, str], day: dt.date) -> StackSettings:
    """`read_settings` with the stack config the engine would provide (in a copied context, so
    the session's global config is untouched)."""
    from pulumi.runtime import config as runtime_config

    def read() -> StackSettings:
        runtime_config.CONFIG.set(dict(config))
        return read_settings(today=day)

    return contextvars.copy_context().run(read)


def test_program_settings_log_the_warning_and_stop_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: logged.append(message))
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    dev = _read_in_stack({"liminal:kubernetesVersion": "1.33"}, WRITTEN_ON)
    assert dev.kubernetes_version == "1.33"
    assert len(logged) == 1 and logged[0].startswith("liminal:kubernetesVersion: ")
    prod = {"liminal:kubernetesVersion": "1.33", "liminal:protect": "true"}
    with pytest.raises(SettingsError, match="liminal:kubernetesVersion"):
        _read_in_stack(prod, WRITTEN_ON)
    assert _read_in_stack(prod, dt.date(2026, 7, 28)).protect is True
