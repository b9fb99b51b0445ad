"""A platform team's Pulumi program (infra/__main__.py): the parts composed by hand."""

import pulumi

from liminal_pulumi.components import (
    Cluster,
    ClusterArgs,
    ModelStore,
    ModelStoreArgs,
    Network,
    NetworkArgs,
)
from liminal_pulumi.dsl.loader import load_project

project = load_project(pulumi.Config("liminal").require("project"))
tags = {"team": "ml-platform"}

network = Network("ml-net", NetworkArgs(cidr="10.20.0.0/16", az_count=3, tags=tags))
cluster = Cluster(
    "ml-eks",
    ClusterArgs(
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        endpoint_public_access=True,
        public_access_cidrs=("203.0.113.0/24",),  # the office; never 0.0.0.0/0
        cluster_name="ml-eks",
        tags=tags,
    ),
)
store = ModelStore(
    "ml-models",
    ModelStoreArgs(
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        volumes=tuple(project.volumes().values()),
        namespace=cluster.namespace,
        cluster=cluster.connection,  # its nodes mount the store; its provider applies the claims
        tags=tags,
    ),
)

pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("modelStoreId", store.file_system_id)
pulumi.export("claims", store.claim_names)
