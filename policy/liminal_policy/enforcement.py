"""How strictly the baseline applies to a stack: mandatory in prod, advisory in dev.

Staging is held to prod's rules (what passes staging must pass prod), except that its stateful
resources need not be protected; dev only warns. The per-stack policy config files next to the pack
(`config.<environment>.json`, passed with `--policy-pack-config`) say the same thing explicitly, for
runs where the pack cannot tell which stack it is checking; a test keeps the two in agreement.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pulumi_policy import EnforcementLevel

ENVIRONMENTS = ("dev", "staging", "prod")
PRODUCTION_NAMES = frozenset({"prod", "production", "prd"})
STAGING_NAMES = frozenset({"staging", "stage", "stg"})
# An explicit level for every policy, for one-off runs (`LIMINAL_POLICY_ENFORCEMENT=mandatory`).
ENFORCEMENT_ENV = "LIMINAL_POLICY_ENFORCEMENT"
# The stack name, when the engine passes it to the pack; the config files do not depend on it.
STACK_ENV = "PULUMI_STACK"
PROTECTION_POLICY = "stateful-resources-protected"

PACK_LEVEL = {
    "dev": EnforcementLevel.ADVISORY,
    "staging": EnforcementLevel.MANDATORY,
    "prod": EnforcementLevel.MANDATORY,
}
PROTECTION_LEVEL = {
    "dev": EnforcementLevel.DISABLED,
    "staging": EnforcementLevel.ADVISORY,
    "prod": EnforcementLevel.MANDATORY,
}


def environment_of_stack(stack: str | None) -> str:
    """`org/project/prod`, `prod`, `liminal-prod` -> prod; staging likewise; else dev."""
    if not stack:
        return "dev"
    name = stack.rsplit("/", 1)[-1].lower()
    words = set(name.replace("_", "-").split("-"))
    if name in PRODUCTION_NAMES or words & PRODUCTION_NAMES:
        return "prod"
    if name in STAGING_NAMES or words & STAGING_NAMES:
        return "staging"
    return "dev"


def parse_level(text: str) -> EnforcementLevel:
    try:
        return EnforcementLevel(text.strip().lower())
    except ValueError:
        allowed = ", ".join(level.value for level in EnforcementLevel)
        raise ValueError(f"{ENFORCEMENT_ENV}={text!r} is not one of: {allowed}") from None


def pack_level(environment: str, environ: Mapping[str, str] = os.environ) -> EnforcementLevel:
    override = environ.get(ENFORCEMENT_ENV)
    if override:
        return parse_level(override)
    return PACK_LEVEL[environment]


def policy_levels(
    environment: str, policy_names: list[str], environ: Mapping[str, str] = os.environ
) -> dict[str, EnforcementLevel]:
    """The level of each policy for a stack of `environment`."""
    default = pack_level(environment, environ)
    levels = dict.fromkeys(policy_names, default)
    if PROTECTION_POLICY in levels and not environ.get(ENFORCEMENT_ENV):
        levels[PROTECTION_POLICY] = PROTECTION_LEVEL[environment]
    return levels


def config_file_content(environment: str) -> dict[str, str]:
    """What `policy/config.<environment>.json` holds (the Pulumi policy config format)."""
    return {
        "all": PACK_LEVEL[environment].value,
        PROTECTION_POLICY: PROTECTION_LEVEL[environment].value,
    }


def configured_level(
    policy_name: str, own_level: EnforcementLevel, config: Mapping[str, object]
) -> EnforcementLevel:
    """The level the engine applies given a config file: the policy's own entry, then `all`."""
    entry = config.get(policy_name)
    if isinstance(entry, Mapping):
        entry = entry.get("enforcementLevel")
    if isinstance(entry, str):
        return EnforcementLevel(entry)
    everything = config.get("all")
    if isinstance(everything, str):
        return EnforcementLevel(everything)
    return own_level
