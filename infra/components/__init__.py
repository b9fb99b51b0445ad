"""ComponentResources of the liminal AWS platform, one per part of the stack.

Each component takes a frozen dataclass of plain values and `pulumi.Input`s (ids, arns, outputs)
documented field by field, checks it before declaring anything (`ComponentArgumentError`, a
`ValueError` naming every wrong argument) and exposes its outputs as attributes. `LiminalPlatform`
composes them; `ExistingNetwork` and `ClusterConnection` hand a VPC and a cluster from one to the
next, or bring your own.
"""

from liminal_pulumi.components.airflow import Airflow, AirflowArgs
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.connections import ClusterConnection, ExistingNetwork
from liminal_pulumi.components.load_balancer_controller import (
    LoadBalancerController,
    LoadBalancerControllerArgs,
)
from liminal_pulumi.components.model_store import ModelStore, ModelStoreArgs
from liminal_pulumi.components.monitoring import Monitoring, MonitoringArgs
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.components.platform import LiminalPlatform, PlatformArgs
from liminal_pulumi.components.registry import Registry, RegistryArgs
from liminal_pulumi.components.services import Services, ServicesArgs
from liminal_pulumi.plans.checks import ComponentArgumentError

__all__ = [
    "Airflow",
    "AirflowArgs",
    "Cluster",
    "ClusterArgs",
    "ClusterConnection",
    "ComponentArgumentError",
    "ExistingNetwork",
    "LiminalPlatform",
    "LoadBalancerController",
    "LoadBalancerControllerArgs",
    "ModelStore",
    "ModelStoreArgs",
    "Monitoring",
    "MonitoringArgs",
    "Network",
    "NetworkArgs",
    "PlatformArgs",
    "Registry",
    "RegistryArgs",
    "Services",
    "ServicesArgs",
]
