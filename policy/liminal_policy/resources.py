"""A neutral view of the resources a policy inspects, and the type tokens it knows.

Checks take plain mappings (resource inputs) or `Resource` values, so tests build them directly and
the engine's `PolicyResource` objects are converted once, in `Resource.from_policy_resource`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# pulumi-aws 7 type tokens (checked against the installed package, not memory).
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
EFS_FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
EFS_FILE_SYSTEM_POLICY = "aws:efs/fileSystemPolicy:FileSystemPolicy"
EFS_BACKUP_POLICY = "aws:efs/backupPolicy:BackupPolicy"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EC2_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
MWAA_ENVIRONMENT = "aws:mwaa/environment:Environment"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE = "aws:iam/role:Role"
EC2_VPC = "aws:ec2/vpc:Vpc"
EC2_FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EC2_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
EC2_SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EC2_DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
LB_LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
ALB_LOAD_BALANCER = "aws:alb/loadBalancer:LoadBalancer"
CLASSIC_LOAD_BALANCER = "aws:elb/loadBalancer:LoadBalancer"
AMP_RULE_GROUP_NAMESPACE = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# pulumi-eks components: their inputs are checked too, so a mistake is reported where it is made.
PULUMI_EKS_CLUSTER = "eks:index:Cluster"
PULUMI_EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"


@dataclass(frozen=True)
class Resource:
    """A resource of a stack: its inputs, whether it is protected, what its inputs refer to."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    # input property name -> URNs of the resources whose outputs flow into that input
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_policy_resource(cls, resource: Any) -> Resource:
        """Convert a `pulumi_policy.PolicyResource` (what a stack validation receives)."""
        dependencies = {
            prop: tuple(dependency.urn for dependency in depends_on)
            for prop, depends_on in (resource.property_dependencies or {}).items()
        }
        return cls(
            type=resource.resource_type,
            urn=resource.urn,
            name=resource.name,
            props=resource.props,
            protect=bool(resource.opts.protect) if resource.opts is not None else False,
            dependencies=dependencies,
        )

    def refers_to(self, target: Resource, prop: str, target_keys: Iterable[str]) -> bool:
        """Whether this resource's input `prop` points at `target`.

        Linked through outputs (the usual `bucket=bucket.id`), the engine records a dependency; a
        literal name or id is matched against the target's own inputs instead.
        """
        if target.urn in self.dependencies.get(prop, ()):
            return True
        value = self.props.get(prop)
        if not isinstance(value, str) or not value:
            return False
        return any(target.props.get(key) == value for key in target_keys)


@dataclass(frozen=True)
class Violation:
    """A policy violation; `urn` names the offending resource (None: the stack as a whole)."""

    message: str
    urn: str | None = None


def as_list(value: Any) -> list[Any]:
    """Inputs that AWS lets be one value or a list (IAM `Action`, `Resource`) as a list."""
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def mapping(value: Any) -> Mapping[str, Any]:
    """A nested input object, or an empty one when absent."""
    return value if isinstance(value, Mapping) else {}


def policy_document(value: Any) -> Mapping[str, Any] | None:
    """An IAM/S3/EFS policy document given as a JSON string or as an object; None if unreadable."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except ValueError:
            return None
        return document if isinstance(document, Mapping) else None
    return None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        statement
        for statement in as_list(document.get("Statement"))
        if isinstance(statement, Mapping)
    ]


def denies_insecure_transport(document: Mapping[str, Any] | None) -> bool:
    """Whether a resource policy has a Deny for requests without TLS (aws:SecureTransport false)."""
    if document is None:
        return False
    for statement in statements(document):
        if statement.get("Effect") != "Deny":
            continue
        condition = mapping(statement.get("Condition"))
        secure_transport = mapping(condition.get("Bool")).get("aws:SecureTransport")
        if any(str(value).lower() == "false" for value in as_list(secure_transport)):
            return True
    return False
