"""Mandatory in prod, advisory in dev: in code and in the per-stack config files alike."""

import json

import pytest
from delivery_paths import POLICY_DIR
from liminal_policy.enforcement import (
    ENFORCEMENT_ENV,
    ENVIRONMENTS,
    PROTECTION_POLICY,
    config_file_content,
    configured_level,
    environment_of_stack,
    pack_level,
)
from liminal_policy.pack import build_policies, policy_names
from pulumi_policy import EnforcementLevel


@pytest.mark.parametrize(
    ("stack", "environment"),
    [
        ("prod", "prod"),
        ("myorg/liminal/prod", "prod"),
        ("liminal-production", "prod"),
        ("staging", "staging"),
        ("acme/liminal/stage", "staging"),
        ("dev", "dev"),
        ("alice-sandbox", "dev"),
        ("product-dev", "dev"),
        (None, "dev"),
    ],
)
def test_environment_of_stack(stack, environment):
    assert environment_of_stack(stack) == environment


def _levels(environment, environ=None):
    return {
        p.name: p.enforcement_level
        for p in build_policies(environment, environ={} if environ is None else environ)
    }


def test_prod_makes_every_policy_mandatory():
    assert set(_levels("prod").values()) == {EnforcementLevel.MANDATORY}


def test_dev_only_advises_and_does_not_ask_for_protection():
    levels = _levels("dev")
    assert levels.pop(PROTECTION_POLICY) == EnforcementLevel.DISABLED
    assert set(levels.values()) == {EnforcementLevel.ADVISORY}


def test_staging_is_held_to_prod_rules_but_protection_only_advised():
    levels = _levels("staging")
    assert levels.pop(PROTECTION_POLICY) == EnforcementLevel.ADVISORY
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


def test_environment_variable_overrides_every_level():
    levels = _levels("dev", {ENFORCEMENT_ENV: "Mandatory"})
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}
    with pytest.raises(ValueError, match=ENFORCEMENT_ENV):
        pack_level("dev", {ENFORCEMENT_ENV: "strict"})


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_files_match_the_code(environment):
    path = POLICY_DIR / f"config.{environment}.json"
    config = json.loads(path.read_text())
    assert config == config_file_content(environment)
    names = set(policy_names())
    assert set(config) - {"all"} <= names
    # Whatever level a policy has on its own, the file gives the one the code gives this stack.
    expected = _levels(environment)
    for name in names:
        for own in (EnforcementLevel.ADVISORY, EnforcementLevel.MANDATORY):
            assert configured_level(name, own, config) == expected[name]


def test_configured_level_precedence():
    config = {"all": "mandatory", "a": {"enforcementLevel": "advisory"}, "b": "disabled"}
    assert configured_level("a", EnforcementLevel.MANDATORY, config) == EnforcementLevel.ADVISORY
    assert configured_level("b", EnforcementLevel.MANDATORY, config) == EnforcementLevel.DISABLED
    assert configured_level("c", EnforcementLevel.ADVISORY, config) == EnforcementLevel.MANDATORY
    assert configured_level("c", EnforcementLevel.ADVISORY, {}) == EnforcementLevel.ADVISORY
