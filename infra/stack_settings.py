"""A stack's typed settings, read from the `liminal` namespace of its Pulumi config.

Keys are camelCase as Pulumi convention has it (`liminal:natStrategy`); every key has a default in
`liminal_pulumi.defaults`. A wrong value or an unknown key fails with a message naming the key, so
a typo in a stack file never silently falls back to a default. The rules and allowed values are
the components' own (`liminal_pulumi.plans.checks`, the lists in `defaults`); `platform_args`
turns the settings into the `PlatformArgs` of `LiminalPlatform`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from liminal_pulumi import defaults
from liminal_pulumi.plans import checks

if TYPE_CHECKING:
    from liminal_pulumi.components.platform import PlatformArgs
    from liminal_pulumi.dsl.model import Project

NAMESPACE = "liminal"

# Settings whose value must be one of a list; each list is declared once, in `defaults`.
ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "airflow_version": defaults.SUPPORTED_AIRFLOW_VERSIONS,
    "mwaa_environment_class": defaults.MWAA_ENVIRONMENT_CLASSES,
    "nat_strategy": defaults.NAT_STRATEGIES,
    "service_exposure": defaults.SERVICE_EXPOSURES,
}


class SettingsError(ValueError):
    """Invalid stack settings; each line names the config key (`liminal:<key>`) at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack settings:\n" + "\n".join(f"  {p}" for p in problems))


class StackSettings(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    project: str = defaults.STACK_PROJECT
    region: str = Field(default=defaults.STACK_REGION, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    airflow_version: str = defaults.AIRFLOW_VERSION
    mwaa_environment_class: str = defaults.MWAA_ENVIRONMENT_CLASS
    mwaa_min_workers: int = Field(default=defaults.MWAA_MIN_WORKERS, ge=1, le=25)
    mwaa_max_workers: int = Field(default=defaults.MWAA_MAX_WORKERS, ge=1, le=25)
    node_instance_types: tuple[str, ...] = Field(default=defaults.NODE_INSTANCE_TYPES, min_length=1)
    node_min_size: int = Field(default=defaults.NODE_MIN_SIZE, ge=1)
    node_desired_size: int = Field(default=defaults.NODE_DESIRED_SIZE, ge=1)
    node_max_size: int = Field(default=defaults.NODE_MAX_SIZE, ge=1)
    kubernetes_version: str = Field(default=defaults.KUBERNETES_VERSION, pattern=r"^1\.\d{2}$")
    az_count: int = Field(default=defaults.AZ_COUNT, ge=2, le=6)
    nat_strategy: str = defaults.NAT_STRATEGY
    vpc_cidr: str = defaults.VPC_CIDR
    # The EKS API endpoint is always reachable privately; publicly only when asked, and then
    # only from the listed networks.
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    service_exposure: str = defaults.SERVICE_EXPOSURE
    protect: bool = False
    # Another stack ("staging" or "org/project/staging") whose image digests and liminal.yml
    # revision this stack deploys instead of building its own.
    promote_from: str | None = Field(default=None, min_length=1)

    @field_validator(*ALLOWED_VALUES)
    @classmethod
    def _allowed(cls, value: str, info: ValidationInfo) -> str:
        problem = checks.one_of(value, ALLOWED_VALUES[str(info.field_name)])
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("node_instance_types")
    @classmethod
    def _instance_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if "." not in item:
                raise ValueError(f"{item!r} is not an EC2 instance type such as t3.large")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if network.version != 4 or not 16 <= network.prefixlen <= 20:
            raise ValueError("must be an IPv4 network from /16 to /20 (room for the subnets)")
        if not network.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = checks.open_cidrs(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        problems = []
        if self.mwaa_max_workers < self.mwaa_min_workers:
            problems.append(("mwaaMaxWorkers", "must be at least mwaaMinWorkers"))
        if not self.node_min_size <= self.node_desired_size <= self.node_max_size:
            problems.append(
                ("nodeDesiredSize", "needs nodeMinSize <= nodeDesiredSize <= nodeMaxSize")
            )
        public = checks.public_endpoint(self.endpoint_public_access, self.public_access_cidrs)
        if public:
            problems.append(("publicAccessCidrs", f"{public} (endpointPublicAccess is true)"))
        if problems:
            raise SettingsError([f"{NAMESPACE}:{key}: {message}" for key, message in problems])
        return self

    def config_keys(self) -> dict[str, Any]:
        """The settings as `liminal:<camelKey>` -> value, as a plan or a report shows them."""
        return {
            f"{NAMESPACE}:{key}": value
            for key, value in self.model_dump(mode="json", by_alias=True).items()
        }


def platform_args(
    settings: StackSettings, project: Project, build_dir: Path | None = None
) -> PlatformArgs:
    """The `LiminalPlatform` arguments of a stack: its settings, its validated project.

    The platform keeps this repository's names: `environment` is left to its default
    (`liminal-<stack>`) and the tags name the stack.
    """
    from liminal_pulumi.components.platform import PlatformArgs

    return PlatformArgs(
        project=project,
        region=settings.region,
        vpc_cidr=settings.vpc_cidr,
        az_count=settings.az_count,
        nat_strategy=settings.nat_strategy,
        kubernetes_version=settings.kubernetes_version,
        node_instance_types=settings.node_instance_types,
        node_min_size=settings.node_min_size,
        node_desired_size=settings.node_desired_size,
        node_max_size=settings.node_max_size,
        endpoint_public_access=settings.endpoint_public_access,
        public_access_cidrs=settings.public_access_cidrs,
        airflow_version=settings.airflow_version,
        mwaa_environment_class=settings.mwaa_environment_class,
        mwaa_min_workers=settings.mwaa_min_workers,
        mwaa_max_workers=settings.mwaa_max_workers,
        service_exposure=settings.service_exposure,
        protect=settings.protect,
        promote_from=settings.promote_from,
        build_dir=build_dir,
    )


# Fields whose config value is JSON (numbers, booleans, lists); the rest are taken verbatim, so
# that `kubernetesVersion: "1.33"` stays a string.
_JSON_FIELDS = frozenset(
    name
    for name, field in StackSettings.model_fields.items()
    if field.annotation in (int, bool) or get_origin(field.annotation) is tuple
)


def _decode(field: str, raw: Any) -> Any:
    """Pulumi hands config values over as strings; structured ones are JSON."""
    if not isinstance(raw, str) or field not in _JSON_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # left for the model to reject with a message naming the key


def settings_from_config(values: Mapping[str, Any]) -> StackSettings:
    """Build settings from a stack's config (`{"liminal:natStrategy": "single", ...}`).

    Keys of other namespaces are ignored (but `aws:region` must agree with `liminal:region`);
    unknown `liminal:` keys are errors.
    """
    by_alias = {str(field.alias): name for name, field in StackSettings.model_fields.items()}
    problems: list[str] = []
    data: dict[str, Any] = {}
    for key, raw in values.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        field = by_alias.get(name)
        if field is None:
            known = ", ".join(sorted(by_alias))
            problems.append(f"{key}: unknown setting (known: {known})")
            continue
        data[field] = _decode(field, raw)
    # The AWS provider reads `aws:region`; the two must agree, and either one is enough.
    aws_region = values.get("aws:region")
    if aws_region and "region" not in data:
        data["region"] = aws_region
    elif aws_region and data.get("region") != aws_region:
        problems.append(f"{NAMESPACE}:region: {data.get('region')!r} differs from aws:region")
    if problems:
        raise SettingsError(problems)
    try:
        return StackSettings(**data)
    except SettingsError:
        raise
    except ValidationError as error:
        raise SettingsError(_located(error)) from None


def _located(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        nested = item.get("ctx", {}).get("error")
        if isinstance(nested, SettingsError):
            problems.extend(nested.problems)
            continue
        loc = item["loc"]
        name = str(loc[0]) if loc else ""
        field = StackSettings.model_fields.get(name)
        key = field.alias if field and field.alias else name
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{NAMESPACE}:{key}: {message} (got {item.get('input')!r})")
    return problems


def _minor(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor)


def kubernetes_support_warnings(settings: StackSettings, today: dt.date) -> list[str]:
    """Check `liminal:kubernetesVersion` against Amazon EKS's release calendar on `today`.

    The calendar is `defaults.EKS_KUBERNETES_CALENDAR` (from the EKS user guide). A version past
    its end of standard support (EKS bills extended support from that day, UTC) is an error in a
    production stack (`liminal:protect true`) and a warning elsewhere; a version past extended
    support, older than the calendar, or not yet released on EKS is always an error (EKS creates
    no such cluster). A version newer than the calendar only warns: its dates are unknown here.

    :returns: the warning messages (each naming `liminal:kubernetesVersion`), to be logged.
    :raises SettingsError: for the errors above.
    """
    key = f"{NAMESPACE}:kubernetesVersion"
    version = settings.kubernetes_version
    calendar = defaults.EKS_KUBERNETES_CALENDAR
    newest = max(calendar, key=_minor)
    latest = f"use {newest} (the newest in liminal_pulumi.defaults.EKS_KUBERNETES_CALENDAR)"
    dates = calendar.get(version)
    if dates is None:
        if _minor(version) > _minor(newest):
            return [
                f"{key}: {version} is newer than the EKS release calendar in "
                "liminal_pulumi.defaults.EKS_KUBERNETES_CALENDAR; add its dates there"
            ]
        raise SettingsError([f"{key}: Amazon EKS no longer offers Kubernetes {version}; {latest}"])
    released, standard_end, extended_end = dates
    if today < released:
        raise SettingsError(
            [f"{key}: Amazon EKS offers Kubernetes {version} from {released.isoformat()}"]
        )
    if today >= extended_end:
        raise SettingsError(
            [
                f"{key}: extended support of Kubernetes {version} on Amazon EKS ended on "
                f"{extended_end.isoformat()}: EKS creates no such cluster; {latest}"
            ]
        )
    if today >= standard_end:
        message = (
            f"{key}: standard support of Kubernetes {version} on Amazon EKS ended on "
            f"{standard_end.isoformat()}: the cluster runs in paid extended support (until "
            f"{extended_end.isoformat()}); upgrade one minor version at a time up to {newest}"
        )
        if settings.protect:
            raise SettingsError([f"{message} (an error in a protected, production stack)"])
        return [message]
    return []


def read_settings(today: dt.date | None = None) -> StackSettings:
    """The current stack's settings, from the config the Pulumi engine (or a plan) provides.

    `today` (UTC) dates the Kubernetes support check (`kubernetes_support_warnings`); its
    warnings go to the Pulumi log.

    :raises SettingsError: bad settings, or a Kubernetes version EKS should not be asked for.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    settings = settings_from_config(values)
    day = today or dt.datetime.now(dt.UTC).date()
    for warning in kubernetes_support_warnings(settings, day):
        pulumi.log.warn(warning)
    return settings
