"""A platform team's Pulumi program (infra/__main__.py): liminal on the team's own VPC."""

import pulumi

from liminal_pulumi.components import ExistingNetwork, LiminalPlatform, PlatformArgs
from liminal_pulumi.dsl.loader import load_project

config = pulumi.Config("liminal")
# `liminal:project` is the folder of liminal.yml files (`liminal plan PATH` sets it to PATH).
project = load_project(config.require("project"))

platform = LiminalPlatform(
    "ml",
    PlatformArgs(
        project=project,
        environment="team-ml",  # the EKS cluster, MWAA environment and ECR prefix
        region="eu-west-1",
        network=ExistingNetwork(
            vpc_id="vpc-0a1b2c3d4e5f60718",
            private_subnet_ids=["subnet-0aaa1111", "subnet-0bbb2222"],
            public_subnet_ids=["subnet-0ccc3333", "subnet-0ddd4444"],
        ),
        node_instance_types=("m6i.large",),
        mwaa_environment_class="mw1.medium",
        protect=True,
    ),
)

pulumi.export("airflowUrl", platform.airflow_webserver_url)
pulumi.export("clusterName", platform.cluster_name)
pulumi.export("serviceEndpoints", platform.service_endpoints)
