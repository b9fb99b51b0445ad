"""Component contracts: every argument and output documented, checks inside the components that
report every problem at once, and each allowed-value list declared once."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pulumi
import pytest
from stack_settings import ALLOWED_VALUES, SettingsError, settings_from_config

import liminal_pulumi.components as components
from liminal_pulumi import defaults
from liminal_pulumi.components import (
    Cluster,
    ClusterArgs,
    ComponentArgumentError,
    Services,
    ServicesArgs,
)
from liminal_pulumi.dsl.model import Service
from liminal_pulumi.plans import service_plan
from liminal_pulumi.testing import MockCloud, run

COMPONENTS = [
    value
    for value in vars(components).values()
    if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
]
ARGS = [
    value
    for value in vars(components).values()
    if inspect.isclass(value) and dataclasses.is_dataclass(value)
]


def documented(doc: str | None) -> set[str]:
    """Names listed in a Google-style `Attributes:` section."""
    section = (doc or "").split("Attributes:", 1)
    if len(section) < 2:
        return set()
    return set(re.findall(r"^ {4}(\w+):", inspect.cleandoc("x\n" + section[1]), re.M)) | set(
        re.findall(r"^\s{4,8}(\w+):", section[1], re.M)
    )


def test_the_package_exports_every_component_and_its_args() -> None:
    names = {c.__name__ for c in COMPONENTS}
    assert names == {
        "Network",
        "Cluster",
        "ModelStore",
        "Registry",
        "Airflow",
        "Services",
        "Monitoring",
        "LoadBalancerController",
        "LiminalPlatform",
    }
    assert {a.__name__ for a in ARGS} >= {f"{n}Args" for n in names - {"LiminalPlatform"}}


@pytest.mark.parametrize("args_class", ARGS, ids=lambda c: c.__name__)
def test_every_args_field_is_documented(args_class: type) -> None:
    fields = {f.name for f in dataclasses.fields(args_class)}
    missing = fields - documented(args_class.__doc__)
    assert not missing, f"{args_class.__name__} docstring lacks {sorted(missing)}"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_every_component_documents_what_it_creates_and_its_outputs(component: type) -> None:
    doc = component.__doc__ or ""
    assert "Creates" in doc or "Composes" in doc, f"{component.__name__} does not say"
    assert "(type `liminal:" in doc
    outputs = set(inspect.get_annotations(component))
    missing = outputs - documented(doc)
    assert not missing, f"{component.__name__} docstring lacks outputs {sorted(missing)}"


def test_the_documented_field_finder_sees_a_missing_field() -> None:
    @dataclasses.dataclass
    class HalfDocumented:
        """Attributes:
        first: documented.
        """

        first: int = 0
        second: int = 0

    assert {f.name for f in dataclasses.fields(HalfDocumented)} - documented(
        HalfDocumented.__doc__
    ) == {"second"}


def test_each_allowed_value_list_is_the_one_in_defaults() -> None:
    assert ALLOWED_VALUES["nat_strategy"] is defaults.NAT_STRATEGIES
    assert ALLOWED_VALUES["service_exposure"] is defaults.SERVICE_EXPOSURES
    assert ALLOWED_VALUES["mwaa_environment_class"] is defaults.MWAA_ENVIRONMENT_CLASSES
    assert ALLOWED_VALUES["airflow_version"] is defaults.SUPPORTED_AIRFLOW_VERSIONS
    # the service plan maps exactly the exposures the components and settings allow
    assert tuple(service_plan.EXPOSURE_SERVICE_TYPES) == defaults.SERVICE_EXPOSURES
    assert set(service_plan.LB_SCHEMES) < set(defaults.SERVICE_EXPOSURES)


def test_services_refuse_an_unknown_exposure_naming_the_argument_and_the_choices(
    pulumi_mocks: MockCloud,
) -> None:
    service = Service(service="srv", image="org/app")
    with pytest.raises(ComponentArgumentError) as caught:
        run(
            lambda: Services(
                "svcnodeport",
                ServicesArgs(
                    services=(service,),
                    image_refs={},
                    claims={},
                    namespace="liminal",
                    exposure="nodeport",
                ),
            )
        )
    assert isinstance(caught.value, ValueError)
    assert caught.value.problems == (
        "exposure: 'nodeport' is not allowed; use one of "
        "cluster_ip, internal_load_balancer, public_load_balancer",
        "image_refs: no reference for image 'org/app' of 'srv'",
    )
    assert "Services 'svcnodeport'" in str(caught.value)
    assert pulumi_mocks.under("svcnodeport") == []


@pytest.mark.parametrize(
    ("settings", "problems"),
    [
        (
            {"endpoint_public_access": True},
            ["public_access_cidrs: a public endpoint needs the networks allowed in"],
        ),
        (
            {"endpoint_public_access": True, "public_access_cidrs": ("0.0.0.0/0",)},
            ["public_access_cidrs: 0.0.0.0/0 opens the cluster API to the whole internet"],
        ),
        (
            {
                "public_access_cidrs": ("10.0.0.1/8",),
                "node_min_size": 3,
                "node_desired_size": 2,
                "instance_types": ("m6g.large", "m6i.large"),
                "kubernetes_version": "latest",
                "namespace": "Not_A_Label",
            },
            [
                "kubernetes_version: 'latest' is not of the form 1.NN",
                "instance_types: node instance types m6g.large, m6i.large must all be",
                "node_min_size/node_desired_size/node_max_size: need 0 <= min (3)",
                "public_access_cidrs: '10.0.0.1/8' is not a network",
                "namespace: 'Not_A_Label' is not a Kubernetes DNS label",
            ],
        ),
    ],
)
def test_cluster_refuses_an_open_endpoint_and_reports_every_problem(
    pulumi_mocks: MockCloud, settings: dict[str, object], problems: list[str]
) -> None:
    name = f"clbad{len(problems)}{len(settings)}"
    with pytest.raises(ComponentArgumentError) as caught:
        run(
            lambda: Cluster(
                name,
                ClusterArgs(
                    vpc_id="vpc-1",
                    private_subnet_ids=["a", "b"],
                    public_subnet_ids=[],
                    **settings,  # type: ignore[arg-type]
                ),
            )
        )
    assert len(caught.value.problems) == len(problems)
    for found, expected in zip(caught.value.problems, problems, strict=True):
        assert found.startswith(expected), found
    assert pulumi_mocks.under(name) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("liminal:serviceExposure", "nodeport"),
        ("liminal:natStrategy", "both"),
        ("liminal:mwaaEnvironmentClass", "mw1.huge"),
    ],
)
def test_stack_settings_name_the_config_key_and_the_same_choices(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_config({key: value})
    (problem,) = caught.value.problems
    assert problem.startswith(f"{key}: {value!r} is not allowed; use one of ")
