"""Kubernetes objects for a liminal.yml service, as plain dicts the Services component applies.

Every function is pure: it takes the model's `Service`, the image reference to run (a string, or
a Pulumi output when called from the component), the volume -> claim names and the namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Service

# The name transformations live with the DSL, which checks names for collisions after them.
from liminal_pulumi.dsl.names import k8s_name, volume_name

__all__ = ["k8s_name", "volume_name"]

EXPOSURE_SERVICE_TYPES = {
    "cluster_ip": "ClusterIP",
    "internal_load_balancer": "LoadBalancer",
    "public_load_balancer": "LoadBalancer",
}
# Load-balanced Services are the AWS Load Balancer Controller's (see
# liminal_pulumi.plans.load_balancer_controller): `spec.loadBalancerClass` hands them to it (and
# keeps the legacy in-tree controller off them), and these annotations, from the controller's
# documentation ("Network Load Balancer", "Service annotations"), set the NLB: its scheme, IP
# targets (traffic goes straight to the pods) and an HTTP health check on the server's readiness
# path, so the NLB only sends requests to pods that can answer them.
LB_SCHEMES = {"internal_load_balancer": "internal", "public_load_balancer": "internet-facing"}
ANNOTATION_PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"


def exposure_annotations(exposure: str) -> dict[str, str]:
    """The Service's annotations for `exposure` (none for `cluster_ip`)."""
    scheme = LB_SCHEMES.get(exposure)
    if scheme is None:
        return {}
    return {
        f"{ANNOTATION_PREFIX}scheme": scheme,
        f"{ANNOTATION_PREFIX}nlb-target-type": "ip",
        f"{ANNOTATION_PREFIX}healthcheck-protocol": "http",
        f"{ANNOTATION_PREFIX}healthcheck-path": defaults.READINESS_PATH,
        f"{ANNOTATION_PREFIX}healthcheck-port": "traffic-port",
    }


PORT_NAME = "http"
TMP_VOLUME = "tmp"


def labels(service: Service) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": k8s_name(service.service),
        "app.kubernetes.io/part-of": "liminal",
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector(service: Service) -> dict[str, str]:
    return {"app.kubernetes.io/name": k8s_name(service.service)}


def metadata(service: Service, namespace: Any) -> dict[str, Any]:
    return {"name": k8s_name(service.service), "namespace": namespace, "labels": labels(service)}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def termination_plan(
    graceful_timeout_seconds: int = defaults.SERVICE_GRACEFUL_TIMEOUT_SECONDS,
    prestop_seconds: int = defaults.SERVICE_PRESTOP_SECONDS,
) -> dict[str, Any]:
    """How a server pod stops so that a rolling update loses no request.

    When a pod is marked terminating, Kubernetes removes it from the Service's endpoints and, at
    the same time, runs its preStop hook; only after the hook does the container get SIGTERM. The
    removal takes a moment to reach kube-proxy on every node and the load balancer, and until it
    does they still send new connections here, so the hook waits `prestop_seconds` (the
    `sleep` action: nothing to run in the image; beta and on by default since Kubernetes 1.30,
    KEP-3960). Then the server (`serving.worker`) takes the connections already queued, stops
    listening, answers what it has read and any request that arrives on an open connection within
    2 s (with `Connection: close`, so clients reconnect to other pods), and exits;
    `graceful_timeout_seconds` bounds the requests still running. The grace period covers both
    steps plus 5 s, after which the kubelet kills the container.

    Returns `{"lifecycle": ..., "terminationGracePeriodSeconds": N}`: the first goes in the
    container spec, the second in the pod spec.
    """
    return {
        "lifecycle": {"preStop": {"sleep": {"seconds": prestop_seconds}}},
        "terminationGracePeriodSeconds": prestop_seconds + graceful_timeout_seconds + 5,
    }


def monitoring_mount(service: Service) -> dict[str, Any] | None:
    """A writable mount of `monitoring.path` for a monitored service, else None.

    Services mount the model store read-only; the prediction log (`<path>/predictions/`) is the
    one place a server writes, so that folder alone is mounted again, read-write, from the same
    volume (a `subPath` under the mount holding it; the kubelet creates it when missing).
    """
    monitoring = service.monitoring
    if monitoring is None or monitoring.path is None:
        return None
    target = monitoring.path.rstrip("/")
    for mount in service.mounts:
        root = mount.path.rstrip("/")
        if target.startswith(root + "/"):
            relative = target[len(root) + 1 :]
            sub_path = f"{mount.sub_path.strip('/')}/{relative}" if mount.sub_path else relative
            return {
                "name": volume_name(mount.volume),
                "mountPath": target,
                "subPath": sub_path,
                "readOnly": False,
            }
    return None  # validation keeps `path` on a mount; nothing to add otherwise


def container_spec(
    service: Service,
    image: Any,
    command: Sequence[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The server container. `extra_env` adds variables the deployment computes (e.g. the
    server's monitoring settings, `serving.prediction_log.monitoring_environment`)."""
    variables = {**service.env_vars, **(extra_env or {})}
    env = [{"name": key, "value": value} for key, value in sorted(variables.items())]
    mounts = [
        {
            "name": volume_name(mount.volume),
            "mountPath": mount.path,
            "readOnly": True,  # services read the model store; only pipelines write it
            **({"subPath": mount.sub_path} if mount.sub_path else {}),
        }
        for mount in service.mounts
    ]
    writable = monitoring_mount(service)
    if writable is not None:
        mounts.append(writable)
    # The root filesystem is read-only: gunicorn's worker heartbeat files go to a memory tmpfs.
    mounts.append({"name": TMP_VOLUME, "mountPath": "/tmp"})
    container: dict[str, Any] = {
        "name": "server",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": PORT_NAME, "containerPort": service.port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": service.cpu, "memory": service.memory},
            "limits": {"cpu": service.cpu, "memory": service.memory},
        },
        "readinessProbe": _probe(defaults.READINESS_PATH, period=5, failures=3),
        "livenessProbe": {
            **_probe(defaults.HEALTHCHECK_PATH, period=15, failures=4),
            "initialDelaySeconds": 10,
        },
        "startupProbe": _probe(defaults.HEALTHCHECK_PATH, period=5, failures=24),
        "lifecycle": termination_plan()["lifecycle"],
        "volumeMounts": mounts,
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if command:
        container["command"] = list(command)
    return container


def pod_volumes(service: Service, claims: Mapping[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for mount in service.mounts:
        seen.setdefault(
            mount.volume,
            {
                "name": volume_name(mount.volume),
                "persistentVolumeClaim": {
                    "claimName": claims.get(mount.volume, mount.volume),
                    "readOnly": True,
                },
            },
        )
    return [
        *seen.values(),
        {"name": TMP_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
    ]


def deployment(
    service: Service,
    image: Any,
    claims: Mapping[str, Any],
    namespace: Any,
    command: Sequence[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment without `replicas`: the autoscaler owns the count, so updates never fight it."""
    return {
        "metadata": metadata(service, namespace),
        "spec": {
            "selector": {"matchLabels": selector(service)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": labels(service)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": defaults.IMAGE_UID,
                        "runAsGroup": defaults.IMAGE_UID,
                        "fsGroup": defaults.IMAGE_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": termination_plan()[
                        "terminationGracePeriodSeconds"
                    ],
                    "containers": [container_spec(service, image, command, extra_env)],
                    "volumes": pod_volumes(service, claims),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(service)},
                        }
                    ],
                },
            },
        },
    }


def service_object(service: Service, namespace: Any, exposure: str) -> dict[str, Any]:
    meta = metadata(service, namespace)
    annotations = exposure_annotations(exposure)
    if annotations:
        meta = {**meta, "annotations": annotations}
    port = service.port if exposure == "cluster_ip" else defaults.SERVICE_LB_PORT
    spec: dict[str, Any] = {
        "type": EXPOSURE_SERVICE_TYPES[exposure],
        "selector": selector(service),
        "ports": [{"name": PORT_NAME, "port": port, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    if exposure in LB_SCHEMES:
        spec["loadBalancerClass"] = defaults.LOAD_BALANCER_CLASS
    return {"metadata": meta, "spec": spec}


def disruption_budget(service: Service, namespace: Any) -> dict[str, Any]:
    return {
        "metadata": metadata(service, namespace),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(service)}},
    }


def autoscaler(service: Service, namespace: Any) -> dict[str, Any]:
    """autoscaling/v2 on CPU, between the service's replicas and max_replicas."""
    name = k8s_name(service.service)
    return {
        "metadata": metadata(service, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": service.replicas,
            "maxReplicas": max(service.max_replicas, service.replicas),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": defaults.SERVICE_TARGET_CPU_UTILIZATION,
                        },
                    },
                }
            ],
        },
    }


def cluster_endpoint(service: Service, namespace: str) -> str:
    return f"http://{k8s_name(service.service)}.{namespace}.svc.cluster.local:{service.port}"
