"""Stack settings: defaults, per-stack files, and errors that name the config key."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack_settings import SettingsError, settings_from_config

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
