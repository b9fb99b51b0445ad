"""A server pod's stop sequence (issue 11): out of the endpoints, preStop wait, SIGTERM, drain."""

from __future__ import annotations

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Service
from liminal_pulumi.plans import service_plan


def test_termination_plan_waits_for_endpoint_removal_then_leaves_the_server_its_grace() -> None:
    plan = service_plan.termination_plan(graceful_timeout_seconds=20, prestop_seconds=10)
    # The sleep action needs no shell or binary in the (read-only, slim) image.
    assert plan["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    # The kubelet's kill comes only after the preStop wait and the server's own graceful timeout.
    assert plan["terminationGracePeriodSeconds"] > 10 + 20


def test_deployment_carries_the_termination_plan_and_rolls_without_unavailability() -> None:
    service = Service(service="s", image="i")
    spec = service_plan.deployment(service, "repo/app:1", {}, "ns")["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    expected = service_plan.termination_plan()
    assert container["lifecycle"] == expected["lifecycle"]
    assert pod["terminationGracePeriodSeconds"] == expected["terminationGracePeriodSeconds"]
    assert expected["terminationGracePeriodSeconds"] > (
        defaults.SERVICE_PRESTOP_SECONDS + defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS
    )
    # New pods are ready before old ones stop; readiness gates the traffic they get.
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert container["readinessProbe"]["httpGet"]["path"] == defaults.READINESS_PATH
