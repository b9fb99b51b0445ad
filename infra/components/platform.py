"""LiminalPlatform: a liminal project on AWS, composed of the stack's components.

Network -> (Cluster | Airflow) side by side -> ModelStore, Registry, Services. MWAA's environment
waits for the network, its bucket and role only; what needs the cluster (kubeconfig, deployment
facts, access entry) is a separate object, so EKS and MWAA are created in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from liminal_pulumi import defaults
from liminal_pulumi.airflow.deployment import DeploymentFacts
from liminal_pulumi.components.airflow import Airflow, AirflowArgs
from liminal_pulumi.components.cluster import Cluster, ClusterArgs
from liminal_pulumi.components.model_store import ModelStore, ModelStoreArgs
from liminal_pulumi.components.monitoring import Monitoring, MonitoringArgs
from liminal_pulumi.components.network import Network, NetworkArgs
from liminal_pulumi.components.registry import Registry, RegistryArgs
from liminal_pulumi.components.services import Services, ServicesArgs
from liminal_pulumi.dsl.model import Project
from liminal_pulumi.dsl.revision import project_revision
from liminal_pulumi.plans import monitoring_plan, promotion

# TODO(issue 9, i9-components): PlatformArgs of its own. Until then the settings are the
# program's `StackSettings`, typed loosely: the library never imports the program.
StackSettings = Any

BUILD_DIR = "build"


@dataclass(frozen=True)
class PlatformArgs:
    settings: StackSettings
    project: Project
    # Where image build contexts are written; the project's .liminal/build when left out.
    build_dir: Path | None = None


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
        kubeconfig=defaults.KUBECONFIG_FILE_NAME,
        region=region,
        cluster_name=cluster_name,
    ).to_json()


def promoted_release(
    parent: pulumi.Resource, settings: StackSettings, image_tags: tuple[str, ...], revision: str
) -> tuple[dict[str, pulumi.Output[str]] | None, pulumi.Output[str]]:
    """With `liminal:promoteFrom`, the source stack's image digests (its liminal.yml revision
    checked against this checkout's) read through a StackReference; otherwise no refs."""
    if settings.promote_from is None:
        return None, pulumi.Output.from_input(revision)
    source = promotion.stack_reference_name(
        settings.promote_from, pulumi.get_organization(), pulumi.get_project()
    )
    reference = pulumi.StackReference(
        f"promote-from-{settings.promote_from.replace('/', '-')}",
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

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("liminal:index:LiminalPlatform", name, None, opts)
        settings, project = args.settings, args.project
        stack = pulumi.get_stack()
        physical = f"liminal-{stack}"
        tags = {"Project": "liminal", "Stack": stack, "ManagedBy": "pulumi"}
        child = pulumi.ResourceOptions(parent=self)
        images = project.images()
        image_tags = tuple(sorted(images))
        namespace = defaults.DEFAULT_NAMESPACE
        revision = project_revision(project.root)

        network = Network(
            "network",
            NetworkArgs(
                cidr=settings.vpc_cidr,
                az_count=settings.az_count,
                nat_strategy=settings.nat_strategy,
                tags=tags,
            ),
            opts=child,
        )
        cluster = Cluster(
            "cluster",
            ClusterArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_subnet_ids=network.public_subnet_ids,
                kubernetes_version=settings.kubernetes_version,
                instance_types=settings.node_instance_types,
                node_min_size=settings.node_min_size,
                node_desired_size=settings.node_desired_size,
                node_max_size=settings.node_max_size,
                endpoint_public_access=settings.endpoint_public_access,
                public_access_cidrs=settings.public_access_cidrs,
                namespace=namespace,
                protect=settings.protect,
                tags=tags,
                cluster_name=physical,
            ),
            opts=child,
        )
        on_cluster = pulumi.ResourceOptions(parent=self, providers=[cluster.k8s_provider])
        model_store = ModelStore(
            "model-store",
            ModelStoreArgs(
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                node_security_group_id=cluster.node_security_group_id,
                volumes=tuple(project.volumes().values()),
                namespace=cluster.namespace,
                protect=settings.protect,
                tags=tags,
            ),
            opts=on_cluster,
        )

        promoted_refs, revision_output = promoted_release(self, settings, image_tags, revision)
        registry = Registry(
            "registry",
            RegistryArgs(
                images=image_tags,
                build_contexts=(
                    {} if promoted_refs is not None else self._build_contexts(args, images)
                ),
                promoted_refs=promoted_refs,
                repository_prefix=physical,
                protect=settings.protect,
                tags=tags,
            ),
            opts=child,
        )

        facts = pulumi.Output.all(
            pulumi.Output.all(**registry.image_refs) if image_tags else {},
            cluster.cluster_name,
        ).apply(
            lambda v: deployment_facts_json(
                dict(v[0]), dict(model_store.claim_names), namespace, settings.region, v[1]
            )
        )
        airflow = Airflow(
            "airflow",
            AirflowArgs(
                environment_name=physical,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids[:2],
                cluster_name=cluster.cluster_name,
                cluster_arn=cluster.cluster_arn,
                cluster_endpoint=cluster.endpoint,
                cluster_certificate_authority=cluster.certificate_authority,
                cluster_security_group_id=cluster.cluster_security_group_id,
                region=settings.region,
                dag_files=self._dag_files(project),
                deployment_facts=facts,
                namespace=namespace,
                airflow_version=settings.airflow_version,
                environment_class=settings.mwaa_environment_class,
                min_workers=settings.mwaa_min_workers,
                max_workers=settings.mwaa_max_workers,
                metrics_namespaces=monitoring_plan.pipeline_metrics_namespaces(project),
                protect=settings.protect,
                tags=tags,
            ),
            opts=child,
        )
        services = Services(
            "services",
            ServicesArgs(
                services=tuple(service for _, service in project.services()),
                image_refs=registry.image_refs,
                claims=model_store.claim_names,
                namespace=cluster.namespace,
                exposure=settings.service_exposure,
                commands=self._server_commands(project),
            ),
            # Pods mount the model store's claims and need nodes, the EFS driver and metrics:
            # a first rollout would otherwise wait for them past its timeout.
            opts=pulumi.ResourceOptions(
                parent=self,
                providers=[cluster.k8s_provider],
                depends_on=[model_store, *cluster.workloads_ready],
            ),
        )
        monitored = monitoring_plan.monitored_services(project)
        monitoring = (
            Monitoring(
                "monitoring",
                MonitoringArgs(
                    services=monitored,
                    environment_name=physical,
                    cluster_name=cluster.cluster_name,
                    cluster_arn=cluster.cluster_arn,
                    oidc_provider_arn=cluster.oidc_provider_arn,
                    oidc_provider_url=cluster.oidc_provider_url,
                    subnet_ids=network.private_subnet_ids,
                    security_group_ids=[cluster.node_security_group_id],
                    namespace=namespace,
                    region=settings.region,
                    tags=tags,
                ),
                opts=on_cluster,
            )
            if monitored
            else None
        )

        self.airflow_webserver_url = airflow.webserver_url.apply(
            lambda host: f"https://{host}" if host and "://" not in host else host
        )
        self.bucket_name = airflow.bucket_name
        self.cluster_name = cluster.cluster_name
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig)
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
        from liminal_pulumi.build.images import write_build_context

        out = args.build_dir or args.project.root / defaults.LOCAL_STATE_DIR / BUILD_DIR
        return {tag: write_build_context(image, out) for tag, image in sorted(images.items())}

    def _dag_files(self, project: Project) -> dict[str, Any]:
        from liminal_pulumi.airflow.bundle import loader_files, project_files

        return {**loader_files(), **project_files(project)}

    def _server_commands(self, project: Project) -> dict[str, list[str]]:
        from liminal_pulumi.build.images import server_command

        return {service.service: server_command(service) for _, service in project.services()}
