"""ComponentResources of the liminal AWS platform, one per part of the stack.

Each component takes a frozen dataclass of plain values and `pulumi.Input`s (ids, arns, outputs,
never Resource objects) and exposes its outputs as attributes.
"""

from liminal_pulumi.components.airflow import Airflow, AirflowArgs
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.model_store import ModelStore, ModelStoreArgs
from liminal_pulumi.components.network import Network, NetworkArgs

__all__ = [
    "Airflow",
    "AirflowArgs",
    "Cluster",
    "ClusterArgs",
    "ModelStore",
    "ModelStoreArgs",
    "Network",
    "NetworkArgs",
]
