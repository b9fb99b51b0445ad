"""Services: each liminal.yml service as a Deployment, Service, PodDisruptionBudget and autoscaler.

The objects come from `liminal_pulumi.plans.service_plan`; this component only applies them with the
cluster's Kubernetes provider (given in `opts`, inherited by every child).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from liminal_pulumi.dsl.model import Service
from liminal_pulumi.plans import service_plan


@dataclass(frozen=True)
class ServicesArgs:
    services: tuple[Service, ...]
    # image tag in liminal.yml -> reference to pull (ECR, digest-pinned once pushed)
    image_refs: Mapping[str, pulumi.Input[str]]
    # volume name in liminal.yml -> PersistentVolumeClaim name
    claims: Mapping[str, pulumi.Input[str]]
    namespace: pulumi.Input[str]
    exposure: str = "cluster_ip"
    # service name -> the serving entry point (liminal_pulumi.build.images.server_command); a
    # service not listed runs its image's own command
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)


class Services(pulumi.ComponentResource):
    endpoints: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("liminal:aws:Services", name, None, opts)
        self.endpoints = {}
        for service in args.services:
            self.endpoints[service.service] = self._service(name, service, args)
        self.register_outputs({"endpoints": self.endpoints})

    def _service(self, name: str, service: Service, args: ServicesArgs) -> pulumi.Output[str]:
        slug = service_plan.k8s_name(service.service)
        child = pulumi.ResourceOptions(parent=self)
        # The plans take plain values; outputs (image, claims, namespace) nest inside the dicts,
        # so a preview still shows every known field.
        image = args.image_refs[service.image]
        deployment = service_plan.deployment(
            service, image, args.claims, args.namespace, args.commands.get(service.service)
        )
        k8s.apps.v1.Deployment(
            f"{name}-{slug}",
            metadata=deployment["metadata"],
            spec=deployment["spec"],
            opts=child,
        )
        exposed = service_plan.service_object(service, args.namespace, args.exposure)
        k8s_service = k8s.core.v1.Service(
            f"{name}-{slug}-svc",
            metadata=exposed["metadata"],
            spec=exposed["spec"],
            opts=child,
        )
        budget = service_plan.disruption_budget(service, args.namespace)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-{slug}-pdb", metadata=budget["metadata"], spec=budget["spec"], opts=child
        )
        scaler = service_plan.autoscaler(service, args.namespace)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-{slug}-hpa", metadata=scaler["metadata"], spec=scaler["spec"], opts=child
        )
        in_cluster = pulumi.Output.from_input(args.namespace).apply(
            lambda namespace: service_plan.cluster_endpoint(service, namespace)
        )
        if args.exposure == "cluster_ip":
            return in_cluster
        return pulumi.Output.all(k8s_service.status, in_cluster).apply(
            lambda v: _load_balancer_url(v[0]) or v[1]
        )


def _load_balancer_url(status: Any) -> str | None:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    for entry in ingress:
        host = getattr(entry, "hostname", None) or getattr(entry, "ip", None)
        if host:
            return f"http://{host}"
    return None
