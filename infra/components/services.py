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

from liminal_pulumi import defaults
from liminal_pulumi.components.connections import ClusterConnection
from liminal_pulumi.dsl.model import Service
from liminal_pulumi.plans import checks, service_plan
from liminal_pulumi.serving.prediction_log import monitoring_environment


@dataclass(frozen=True)
class ServicesArgs:
    """Arguments of `Services`.

    Attributes:
        services: the liminal.yml services to run (`Project.services()`). Required.
        image_refs: liminal.yml image tag -> the reference to pull (ECR, digest-pinned once
            pushed; `Registry.image_refs`). Required; refused: a service whose image is missing.
        claims: liminal.yml volume name -> PersistentVolumeClaim name (`ModelStore.claim_names`);
            a volume not listed is mounted from the claim of its own name. Required.
        namespace: the namespace the objects go to (`Cluster.namespace`). Required.
        exposure: how each service is reached, one of `defaults.SERVICE_EXPOSURES`:
            `cluster_ip` (inside the cluster only), `internal_load_balancer` (an internal NLB in
            the VPC) or `public_load_balancer` (an internet-facing NLB); default
            `defaults.SERVICE_EXPOSURE`, `cluster_ip`.
        commands: service name -> the serving entry point
            (`liminal_pulumi.build.images.server_command`); a service not listed runs its
            image's own command (default none).
        cluster: the cluster to apply the objects to (`Cluster.connection`); its Kubernetes
            provider is used. Default `None`: the provider given in `opts`
            (`providers=[...]`), else the ambient kubeconfig.
    """

    services: tuple[Service, ...]
    image_refs: Mapping[str, pulumi.Input[str]]
    claims: Mapping[str, pulumi.Input[str]]
    namespace: pulumi.Input[str]
    exposure: str = defaults.SERVICE_EXPOSURE
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)
    cluster: ClusterConnection | None = None


def validate(name: str, args: ServicesArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource."""
    problems = checks.Problems(f"Services {name!r}")
    problems.one_of("exposure", args.exposure, defaults.SERVICE_EXPOSURES)
    for service in args.services:
        if service.image not in args.image_refs:
            problems.add(
                "image_refs", f"no reference for image {service.image!r} of {service.service!r}"
            )
    problems.raise_if_any()


class Services(pulumi.ComponentResource):
    """Each liminal.yml service on Kubernetes (type `liminal:aws:Services`).

    Creates per service a Deployment (hardened pod: non-root, read-only root file system, no
    capabilities, the model store mounted read-only but for a monitored service's
    `monitoring.path`, where its prediction log goes, readiness and liveness probes), a Service
    exposed as `exposure` says, a PodDisruptionBudget and a HorizontalPodAutoscaler on CPU
    (`liminal_pulumi.plans.service_plan`).

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        endpoints: service name -> its URL: in-cluster DNS for `cluster_ip`, the load
            balancer's once it has one.
    """

    endpoints: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:aws:Services", name, None, opts)
        self.endpoints = {}
        for service in args.services:
            self.endpoints[service.service] = self._service(name, service, args)
        self.register_outputs({"endpoints": self.endpoints})

    def _service(self, name: str, service: Service, args: ServicesArgs) -> pulumi.Output[str]:
        slug = service_plan.k8s_name(service.service)
        provider = args.cluster.provider if args.cluster is not None else None
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        # The plans take plain values; outputs (image, claims, namespace) nest inside the dicts,
        # so a preview still shows every known field.
        image = args.image_refs[service.image]
        deployment = service_plan.deployment(
            service,
            image,
            args.claims,
            args.namespace,
            args.commands.get(service.service),
            # the server logs predictions and exports per-version metrics when this is set
            extra_env=monitoring_environment(service.service, service.monitoring),
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
