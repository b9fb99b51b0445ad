"""LiminalPlatform: a liminal project on AWS, composed of the other components.

Network -> (Cluster | Airflow) side by side -> ModelStore, Registry, Services. MWAA's environment
waits for the network, its bucket and role only; what needs the cluster (deployment facts,
access entry) is a separate object, so EKS and MWAA are created in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from liminal_pulumi import defaults
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.components.airflow import (
    MAX_WORKERS,
    MWAA_SUBNET_COUNT,
    Airflow,
    AirflowArgs,
)
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.connections import ClusterConnection, ExistingNetwork
from liminal_pulumi.components.load_balancer_controller import (
    LoadBalancerController,
    LoadBalancerControllerArgs,
)
from liminal_pulumi.components.model_store import ModelStore, ModelStoreArgs
from liminal_pulumi.components.monitoring import Monitoring, MonitoringArgs
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.components.registry import Registry, RegistryArgs
from liminal_pulumi.components.services import Services, ServicesArgs
from liminal_pulumi.dsl.model import Project
from liminal_pulumi.dsl.revision import project_revision
from liminal_pulumi.plans import checks, monitoring_plan, promotion, service_plan
from liminal_pulumi.plans.model_store_plan import dns_label
from liminal_pulumi.plans.namespace_plan import namespace_labels

BUILD_DIR = "build"
# The children's names before they were scoped by the platform's own name (liminal-pulumi 0.1):
# aliased so that a stack deployed then keeps its resources (see `PlatformArgs.legacy_aliases`).
LEGACY_CHILD_NAMES = ("network", "cluster", "model-store", "registry", "airflow", "services")


@dataclass(frozen=True)
class PlatformArgs:
    """Arguments of `LiminalPlatform`: a validated liminal project and how to run it on AWS.

    Only `project` is required. `vpc_cidr`, `az_count` and `nat_strategy` apply only when the
    platform creates the VPC (no `network`); `kubernetes_version` to `public_access_cidrs` only
    when it creates the cluster (no `cluster`).

    Attributes:
        project: the validated liminal project (`liminal_pulumi.dsl.loader.load_project(path)`,
            which raises a located `LiminalConfigError` for a bad liminal.yml).
        environment: the prefix of the AWS names the platform chooses: EKS cluster, MWAA
            environment, ECR repositories (`<environment>/<image>`), S3 bucket
            (`airflow-<environment>-...`). Default `None`: `defaults.PLATFORM_ENVIRONMENT`,
            `liminal-<stack>`. Two platforms in one stack need two environments. Refused
            unless it matches `liminal_pulumi.plans.checks.ENVIRONMENT_NAME`.
        region: the AWS region (`eu-west-1`) of the deployment facts MWAA reads and its execution
            policy. Default `None`: the `aws:region` config, else `AWS_REGION` /
            `AWS_DEFAULT_REGION`; refused when none is set.
        network: an existing VPC and subnets to use instead of creating a `Network`
            (`ExistingNetwork`, at least two private subnets; MWAA uses the first two). Default
            `None`: create one.
        vpc_cidr: the created VPC's range (default `defaults.VPC_CIDR`).
        az_count: AZs of the created VPC, 2 to 6 (default `defaults.AZ_COUNT`).
        nat_strategy: one of `defaults.NAT_STRATEGIES` (default `defaults.NAT_STRATEGY`).
        cluster: an existing EKS cluster to use instead of creating a `Cluster`
            (`ClusterConnection`; see its requirements). The platform then creates the
            namespace itself. Default `None`: create one.
        kubernetes_version: the created cluster's version, `1.NN` (default
            `defaults.KUBERNETES_VERSION`).
        node_instance_types: its nodes' instance types (default `defaults.NODE_INSTANCE_TYPES`).
        node_min_size: nodes at least (default `defaults.NODE_MIN_SIZE`).
        node_desired_size: nodes to start with (default `defaults.NODE_DESIRED_SIZE`).
        node_max_size: nodes at most (default `defaults.NODE_MAX_SIZE`).
        endpoint_public_access: a public Kubernetes API endpoint as well as the private one
            (default `False`). Refused without `public_access_cidrs`.
        public_access_cidrs: the networks the public endpoint admits (default none). Refused:
            a `/0` range.
        namespace: the Kubernetes namespace of pipelines and services, a DNS label (default
            `defaults.DEFAULT_NAMESPACE`). Platforms sharing a cluster need distinct ones.
        airflow_version: one of `defaults.SUPPORTED_AIRFLOW_VERSIONS` (default
            `defaults.AIRFLOW_VERSION`).
        mwaa_environment_class: one of `defaults.MWAA_ENVIRONMENT_CLASSES` (default
            `defaults.MWAA_ENVIRONMENT_CLASS`).
        mwaa_min_workers: MWAA workers at least, 1 to 25 (default `defaults.MWAA_MIN_WORKERS`).
        mwaa_max_workers: MWAA workers at most (default `defaults.MWAA_MAX_WORKERS`).
        service_exposure: one of `defaults.SERVICE_EXPOSURES` (default
            `defaults.SERVICE_EXPOSURE`, `cluster_ip`).
        protect: protect and retain every stateful resource (buckets, keys, file system,
            repositories, the cluster); production stacks set it (default `False`).
        promote_from: a stack (`staging` or `org/project/staging`) whose images, by digest,
            this platform deploys instead of building, after checking that its liminal.yml
            revision is this project's (default `None`: build here).
        build_dir: where image build contexts are written (default `None`: the project's
            `.liminal/build`).
        tags: tags on every AWS resource (default `None`: `Project=liminal`,
            `Stack=<stack>`, `ManagedBy=pulumi`).
        legacy_aliases: alias each child to its name in liminal-pulumi 0.1 (`network`,
            `cluster`, ...), so a stack deployed with it keeps its resources (default `True`).
            Set `False` on a second platform added to such a stack: two resources may not
            claim one alias.
    """

    project: Project
    environment: str | None = None
    region: str | None = None
    network: ExistingNetwork | None = None
    vpc_cidr: str = defaults.VPC_CIDR
    az_count: int = defaults.AZ_COUNT
    nat_strategy: str = defaults.NAT_STRATEGY
    cluster: ClusterConnection | None = None
    kubernetes_version: str = defaults.KUBERNETES_VERSION
    node_instance_types: tuple[str, ...] = defaults.NODE_INSTANCE_TYPES
    node_min_size: int = defaults.NODE_MIN_SIZE
    node_desired_size: int = defaults.NODE_DESIRED_SIZE
    node_max_size: int = defaults.NODE_MAX_SIZE
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    namespace: str = defaults.DEFAULT_NAMESPACE
    airflow_version: str = defaults.AIRFLOW_VERSION
    mwaa_environment_class: str = defaults.MWAA_ENVIRONMENT_CLASS
    mwaa_min_workers: int = defaults.MWAA_MIN_WORKERS
    mwaa_max_workers: int = defaults.MWAA_MAX_WORKERS
    service_exposure: str = defaults.SERVICE_EXPOSURE
    protect: bool = False
    promote_from: str | None = None
    build_dir: Path | None = None
    tags: Mapping[str, str] | None = None
    legacy_aliases: bool = True


def platform_region(args: PlatformArgs) -> str | None:
    """`args.region`, else the `aws:region` config, else the AWS SDK's environment variables."""
    return (
        args.region
        or pulumi.Config("aws").get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )


def validate(name: str, args: PlatformArgs) -> None:
    """Every problem with `args` in one `ComponentArgumentError`, before any resource.

    The rules are the children's (`liminal_pulumi.plans.checks` and the allowed-value lists in
    `defaults`), reported under the platform's own argument names.
    """
    problems = checks.Problems(f"LiminalPlatform {name!r}")
    if args.environment is not None:
        problems.check("environment", checks.environment_name(args.environment))
    if platform_region(args) is None:
        problems.add("region", "give it, or set the aws:region config")
    if args.network is None:
        problems.one_of("nat_strategy", args.nat_strategy, defaults.NAT_STRATEGIES)
    elif len(args.network.private_subnet_ids) < MWAA_SUBNET_COUNT:
        problems.add("network", "an existing network needs at least 2 private subnets (MWAA, EKS)")
    if args.cluster is None:
        checks.check_nodes_and_endpoint(
            problems,
            (args.node_min_size, args.node_desired_size, args.node_max_size),
            args.endpoint_public_access,
            args.public_access_cidrs,
        )
    if dns_label_or_none(args.namespace) != args.namespace:
        problems.add("namespace", f"{args.namespace!r} is not a Kubernetes DNS label")
    problems.one_of("airflow_version", args.airflow_version, defaults.SUPPORTED_AIRFLOW_VERSIONS)
    problems.one_of(
        "mwaa_environment_class", args.mwaa_environment_class, defaults.MWAA_ENVIRONMENT_CLASSES
    )
    if not 1 <= args.mwaa_min_workers <= args.mwaa_max_workers <= MAX_WORKERS:
        problems.add(
            "mwaa_min_workers/mwaa_max_workers",
            f"need 1 <= min ({args.mwaa_min_workers}) <= max ({args.mwaa_max_workers}) "
            f"<= {MAX_WORKERS}",
        )
    problems.one_of("service_exposure", args.service_exposure, defaults.SERVICE_EXPOSURES)
    if args.promote_from is not None and not args.promote_from.strip():
        problems.add("promote_from", "name a stack (`staging` or `org/project/staging`)")
    problems.raise_if_any()


def dns_label_or_none(text: str) -> str | None:
    try:
        return dns_label(text)
    except ValueError:
        return None


def deployment_facts_json(
    image_refs: dict[str, str],
    claims: dict[str, str],
    namespace: str,
    region: str,
    cluster_name: str,
) -> str:
    """The file the DAG loader reads on MWAA to find images, claims and the cluster."""
    return DeploymentFacts(
        images=image_refs,
        claims=claims,
        namespace=namespace,
        region=region,
        cluster_name=cluster_name,
    ).to_json()


def promoted_release(
    parent: pulumi.Resource,
    promote_from: str | None,
    image_tags: tuple[str, ...],
    revision: str,
    name: str = "",
) -> tuple[dict[str, pulumi.Output[str]] | None, pulumi.Output[str]]:
    """With `promote_from`, the source stack's image digests (its liminal.yml revision checked
    against this checkout's) read through a StackReference named `<name>-promote-from-<stack>`;
    otherwise no refs and this checkout's revision."""
    if promote_from is None:
        return None, pulumi.Output.from_input(revision)
    source = promotion.stack_reference_name(
        promote_from, pulumi.get_organization(), pulumi.get_project()
    )
    prefix = f"{name}-" if name else ""
    reference = pulumi.StackReference(
        f"{prefix}promote-from-{promote_from.replace('/', '-')}",
        stack_name=source,
        opts=pulumi.ResourceOptions(parent=parent),
    )

    def release(outputs: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "revision": promotion.check_revision(source, outputs or {}, revision),
            "images": promotion.promoted_image_refs(source, outputs or {}, image_tags),
        }

    checked = reference.outputs.apply(release)

    def image_ref(tag: str) -> pulumi.Output[str]:
        return checked.apply(lambda r: r["images"][tag])

    refs = {tag: image_ref(tag) for tag in image_tags}
    return refs, checked.apply(lambda r: r["revision"])


class LiminalPlatform(pulumi.ComponentResource):
    """A liminal project on AWS (type `liminal:index:LiminalPlatform`).

    Composes, each named `<name>-<part>`: `Network` (unless `args.network` is given),
    `Cluster` (unless `args.cluster` is given; then a namespace on that cluster), `ModelStore`,
    `Registry`, `Airflow` (with the DAG loader, the project and its deployment facts in its
    dags folder) and `Services`. The network comes first; EKS and MWAA are created side by
    side; the model store, the images and the services follow. AWS names derive from
    `args.environment`, so several platforms (distinct names and environments) share a stack.

    Raises `ComponentArgumentError` (a `ValueError`) naming every wrong argument before any
    resource is declared.

    Attributes:
        airflow_webserver_url: the Airflow UI's URL (`https://...`).
        bucket_name: MWAA's bucket.
        cluster_name: the EKS cluster's name.
        kubeconfig: a kubeconfig for the cluster, a secret.
        repository_urls: image tag -> ECR repository URL.
        image_refs: image tag -> the deployed image's reference, by digest.
        service_endpoints: service name -> its URL.
        dashboard_urls: monitored service name -> the console URL of its CloudWatch dashboard
            (empty when no service has a `monitoring` section).
        model_store_id: the EFS file system's id.
        project_revision: the SHA-256 revision of the deployed liminal.yml files.
        environment: the prefix of the platform's AWS names.
        network: the VPC and subnets in use (created or given).
        cluster: the cluster connection in use (created or given).
    """

    airflow_webserver_url: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    repository_urls: dict[str, pulumi.Output[str]]
    image_refs: dict[str, pulumi.Output[str]]
    service_endpoints: dict[str, pulumi.Output[str]]
    dashboard_urls: dict[str, pulumi.Output[str]]
    model_store_id: pulumi.Output[str]
    project_revision: pulumi.Output[str]
    environment: str
    network: ExistingNetwork
    cluster: ClusterConnection

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)  # before anything is registered
        super().__init__("liminal:index:LiminalPlatform", name, None, opts)
        project = args.project
        stack = pulumi.get_stack()
        region = platform_region(args) or ""
        physical = args.environment or defaults.PLATFORM_ENVIRONMENT.format(stack=stack)
        tags = (
            dict(args.tags)
            if args.tags is not None
            else {"Project": "liminal", "Stack": stack, "ManagedBy": "pulumi"}
        )
        images = project.images()
        image_tags = tuple(sorted(images))
        namespace = args.namespace
        revision = project_revision(project.root)

        def child(part: str, **options: Any) -> pulumi.ResourceOptions:
            """Options of the child `<name>-<part>`: parented here, aliased to its 0.1 name."""
            aliases = [pulumi.Alias(name=part)] if args.legacy_aliases else None
            return pulumi.ResourceOptions(parent=self, aliases=aliases, **options)

        if args.network is None:
            self.network = Network(
                f"{name}-network",
                NetworkArgs(
                    cidr=args.vpc_cidr,
                    az_count=args.az_count,
                    nat_strategy=args.nat_strategy,
                    tags=tags,
                ),
                opts=child("network"),
            ).as_existing()
        else:
            self.network = args.network
        network = self.network

        if args.cluster is None:
            cluster = Cluster(
                f"{name}-cluster",
                ClusterArgs(
                    vpc_id=network.vpc_id,
                    private_subnet_ids=network.private_subnet_ids,
                    public_subnet_ids=network.public_subnet_ids,
                    kubernetes_version=args.kubernetes_version,
                    instance_types=args.node_instance_types,
                    node_min_size=args.node_min_size,
                    node_desired_size=args.node_desired_size,
                    node_max_size=args.node_max_size,
                    endpoint_public_access=args.endpoint_public_access,
                    public_access_cidrs=args.public_access_cidrs,
                    namespace=namespace,
                    protect=args.protect,
                    tags=tags,
                    cluster_name=physical,
                ),
                opts=child("cluster"),
            )
            self.cluster = cluster.connection
            namespace_output = cluster.namespace
        else:
            self.cluster = args.cluster
            created = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=namespace_labels()),
                opts=pulumi.ResourceOptions(parent=self, provider=self.cluster.provider),
            )
            namespace_output = created.metadata.apply(lambda m: str(m.name))
        connection = self.cluster

        model_store = ModelStore(
            f"{name}-model-store",
            ModelStoreArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                node_security_group_id=connection.node_security_group_id,
                volumes=tuple(project.volumes().values()),
                namespace=namespace_output,
                protect=args.protect,
                tags=tags,
                cluster=connection,
                storage_class_name=dns_label(f"{namespace}-efs"),
            ),
            opts=child("model-store", providers=[connection.provider]),
        )

        promoted_refs, revision_output = promoted_release(
            self, args.promote_from, image_tags, revision, name
        )
        registry = Registry(
            f"{name}-registry",
            RegistryArgs(
                images=image_tags,
                build_contexts=(
                    {} if promoted_refs is not None else self._build_contexts(args, images)
                ),
                promoted_refs=promoted_refs,
                repository_prefix=physical,
                protect=args.protect,
                tags=tags,
            ),
            opts=child("registry"),
        )

        facts = pulumi.Output.all(
            pulumi.Output.all(**registry.image_refs) if image_tags else {},
            connection.name,
        ).apply(
            lambda v: deployment_facts_json(
                dict(v[0]), dict(model_store.claim_names), namespace, region, v[1]
            )
        )
        airflow = Airflow(
            f"{name}-airflow",
            AirflowArgs(
                environment_name=physical,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids[:MWAA_SUBNET_COUNT],
                cluster=connection,
                region=region,
                dag_files=self._dag_files(project),
                deployment_facts=facts,
                namespace=namespace,
                airflow_version=args.airflow_version,
                environment_class=args.mwaa_environment_class,
                min_workers=args.mwaa_min_workers,
                max_workers=args.mwaa_max_workers,
                metrics_namespaces=monitoring_plan.pipeline_metrics_namespaces(project),
                protect=args.protect,
                tags=tags,
            ),
            opts=child("airflow"),
        )
        # Load-balanced services need the AWS Load Balancer Controller (plans/service_plan.py).
        service_dependencies: list[pulumi.Resource] = [model_store, *connection.workloads_ready]
        if args.service_exposure in service_plan.LB_SCHEMES:
            service_dependencies.append(
                LoadBalancerController(
                    f"{name}-lb-controller",
                    LoadBalancerControllerArgs(
                        cluster=connection, vpc_id=network.vpc_id, region=region, tags=tags
                    ),
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        providers=[connection.provider],
                        depends_on=connection.workloads_ready,
                    ),
                )
            )
        services = Services(
            f"{name}-services",
            ServicesArgs(
                services=tuple(service for _, service in project.services()),
                image_refs=registry.image_refs,
                claims=model_store.claim_names,
                namespace=namespace_output,
                exposure=args.service_exposure,
                commands=self._server_commands(project),
                cluster=connection,
            ),
            # Pods mount the model store's claims and need nodes, the EFS driver and metrics:
            # a first rollout would otherwise wait for them past its timeout. A load-balanced
            # Service also waits for its controller, which deletes the NLB when it goes.
            opts=child(
                "services",
                providers=[connection.provider],
                depends_on=service_dependencies,
            ),
        )
        monitored = monitoring_plan.monitored_services(project)
        monitoring = (
            Monitoring(
                f"{name}-monitoring",
                MonitoringArgs(
                    services=monitored,
                    environment_name=physical,
                    cluster=connection,
                    subnet_ids=network.private_subnet_ids,
                    namespace=namespace,
                    region=region,
                    tags=tags,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[connection.provider]),
            )
            if monitored
            else None
        )

        self.environment = physical
        self.airflow_webserver_url = airflow.webserver_url.apply(
            lambda host: f"https://{host}" if host and "://" not in host else host
        )
        self.bucket_name = airflow.bucket_name
        self.cluster_name = pulumi.Output.from_input(connection.name)
        self.kubeconfig = pulumi.Output.secret(connection.kubeconfig)
        self.repository_urls = registry.repository_urls
        self.image_refs = registry.image_refs
        self.service_endpoints = services.endpoints
        self.dashboard_urls = monitoring.dashboard_urls if monitoring else {}
        self.model_store_id = model_store.file_system_id
        self.project_revision = revision_output
        self.register_outputs(
            {
                "airflowWebserverUrl": self.airflow_webserver_url,
                "bucketName": self.bucket_name,
                "clusterName": self.cluster_name,
                "repositoryUrls": self.repository_urls,
                "imageRefs": self.image_refs,
                "serviceEndpoints": self.service_endpoints,
                "dashboardUrls": self.dashboard_urls,
                "modelStoreId": self.model_store_id,
                "projectRevision": self.project_revision,
            }
        )

    def _build_contexts(self, args: PlatformArgs, images: dict[str, Any]) -> dict[str, Path]:
        from liminal_pulumi.build.images import project_secret_files, write_build_context

        out = args.build_dir or args.project.root / defaults.LOCAL_STATE_DIR / BUILD_DIR
        # secrets reach pods as Kubernetes Secrets only: never a file of an image
        secrets = project_secret_files(args.project)
        return {
            tag: write_build_context(image, out, exclude=secrets)
            for tag, image in sorted(images.items())
        }

    def _dag_files(self, project: Project) -> dict[str, Any]:
        from liminal_pulumi.airflow.bundle import loader_files, project_files

        return {**loader_files(), **project_files(project)}

    def _server_commands(self, project: Project) -> dict[str, list[str]]:
        from liminal_pulumi.build.images import server_command

        return {service.service: server_command(service) for _, service in project.services()}
