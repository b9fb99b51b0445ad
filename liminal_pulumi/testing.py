"""A mock cloud for testing Pulumi programs that use liminal_pulumi, offline and without AWS.

Pulumi's unit-testing guide (https://www.pulumi.com/docs/using-pulumi/testing/unit/) replaces
the engine and the providers with `pulumi.runtime.set_mocks`; its example mocks echo each
resource's inputs back as its outputs. Infrastructure code often reads outputs the provider
computes (an ARN in an IAM policy, a repository URL in a pod spec), so `MockCloud` answers the
way AWS would, deterministically:

- ids shaped like AWS's (`vpc-0` + 16 hex digits, `fs-0...`, KMS key UUIDs, bucket and role
  names auto-named `<name>-<7 hex>` as Pulumi does when no name is given);
- ARNs laid out per service (`arn:aws:s3:::<bucket>`, `arn:aws:iam::<account>:role/<path><name>`,
  `arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-0...`, ...);
- ECR repository URLs `<account>.dkr.ecr.<region>.amazonaws.com/<name>`, EKS endpoints
  `https://<32 hex>.gr7.<region>.eks.amazonaws.com` with their OIDC issuer and a kubeconfig,
  MWAA web server host names, image digests, object version ids;
- the data sources the components call (caller identity, partition, region, availability
  zones, ECR token, VPC and subnet look-ups) and the outputs of `pulumi.StackReference`s
  (`stack_outputs`).

It also does two things the Pulumi engine does and the SDK's mock monitor does not: it rejects a
second resource with the same URN (`DuplicateUrnError`, naming the URN), and it records every
registration with its options (parent, protect, retainOnDelete, dependencies, provider) for
assertions (`registrations`, `of_type`, `named`, `under`, `by_urn`). Whole numbers come back as
`int`: the engine's wire format (protobuf `Struct`) carries every number as a float, which is
undone where registrations are recorded (`8080`, not `8080.0`).

Resource references are reported as unsupported, so no `Resource` object crosses the mock
monitor: the SDK would otherwise re-create it on the monitor's thread and fail with "attached to
a different loop".

Testing your own program with it (pytest)::

    # tests/conftest.py
    import pytest
    from liminal_pulumi.testing import MockCloud, install

    @pytest.fixture(scope="session")  # set_mocks is process-global: once per session
    def cloud() -> MockCloud:
        return install(MockCloud(region="eu-west-1"), project="data-platform", stack="test")

    # tests/test_storage.py
    import pulumi_aws as aws
    from liminal_pulumi.testing import resolve, run

    def test_models_bucket_is_named_and_tagged(cloud):
        bucket = run(lambda: aws.s3.Bucket("models", bucket="acme-models", tags={"team": "ml"}))
        (registration,) = cloud.of_type("aws:s3/bucket:Bucket", "models")
        assert registration.inputs["tags"] == {"team": "ml"}
        assert resolve(bucket.arn) == "arn:aws:s3:::acme-models"

It needs the Pulumi SDK and the providers the program uses (`pip install liminal-pulumi[infra]`).

`run` evaluates a program (a callable) like `pulumi up` would and returns what it returned once
every resource it declared is registered; `resolve` then reads an Output's value. Names must be
unique across a session, as URNs are in a stack: give each test its own prefix.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS, get_project, get_stack
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

T = TypeVar("T")

ACCOUNT_ID = "123456789012"  # the account id of AWS's documentation examples
REGION = "us-east-1"
PARTITION = "aws"
MOCK_CA_DATA = "TU9DSy1DQQ=="  # base64 of "MOCK-CA": the clusters' certificate authority data
STACK_TYPE = "pulumi:pulumi:Stack"
# The organization the Pulumi CLI reports for a self-managed (file, S3) backend.
ORGANIZATION = "organization"

# How the SDK marks a secret on the wire (pulumi.runtime.rpc).
_SECRET_KEY = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig

# EC2 and EFS ids: a prefix and 17 hex digits (`vpc-0123456789abcdef0`), as AWS issues them.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:efs/fileSystem:FileSystem": "fs",
    "aws:efs/accessPoint:AccessPoint": "fsap",
    "aws:efs/mountTarget:MountTarget": "fsmt",
}
# The ARN resource part of EC2 types whose id is above (`arn:aws:ec2:<region>:<acct>:vpc/vpc-0..`).
_EC2_ARN_KINDS = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "security-group",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security-group",
    "aws:ec2/natGateway:NatGateway": "natgateway",
    "aws:ec2/eip:Eip": "elastic-ip",
    "aws:ec2/internetGateway:InternetGateway": "internet-gateway",
    "aws:ec2/routeTable:RouteTable": "route-table",
    "aws:ec2/flowLog:FlowLog": "vpc-flow-log",
    "aws:ec2/networkAcl:NetworkAcl": "network-acl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpc-endpoint",
    "aws:ec2/launchTemplate:LaunchTemplate": "launch-template",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security-group-rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security-group-rule",
}


class DuplicateUrnError(Exception):
    """A second resource registered with a URN the stack already holds (the engine refuses it)."""

    def __init__(self, urn: str) -> None:
        self.urn = urn
        super().__init__(f"Duplicate resource URN '{urn}'; try giving it a unique name")


def is_wire_secret(value: Any) -> bool:
    """Whether `value` is a secret as the SDK sends it (a marked mapping)."""
    return isinstance(value, dict) and value.get(_SECRET_KEY) == _SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """`value` with every secret replaced by what it hides (how tests read inputs)."""
    if is_wire_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def whole_numbers(value: Any) -> Any:
    """`value` with every float that holds a whole number made an `int` again.

    Property values cross the engine as protobuf `Struct`s, whose numbers are all doubles; the
    SDK restores `int` only where a resource class declares it. Where inputs are recorded, the
    declared type is unknown: a whole number is taken for an int (`30.0` -> `30`, `0.5` stays).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True)
class Registration:
    """One resource the program declared (or read), as the mock cloud recorded it.

    `inputs` and `state` are plain values: secrets unwrapped (the top-level input keys that were
    secret are in `secret_inputs`), whole numbers as `int`. `wire_inputs` keeps the inputs as
    they crossed the wire: secrets still marked (see `is_wire_secret`), assets as
    `pulumi.Asset`/`pulumi.Archive` objects, values unknown at registration as
    `pulumi.runtime.rpc.UNKNOWN`. `parent` is "" for a resource without one. `read` is true for
    `Resource.get` and `pulumi.StackReference` (a read, not a registration).
    """

    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    secret_inputs: frozenset[str]
    parent: str
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]
    provider: str
    custom: bool
    read: bool
    wire_inputs: dict[str, Any]


class MockCloud(pulumi.runtime.Mocks):
    """Pulumi mocks answering like AWS, recording every registration; see the module docstring.

    Args:
        region: the region the calls report and the ARNs, URLs and zones use.
        account_id: the AWS account id of the caller, in ARNs and ECR URLs.
        stack_outputs: outputs of stack references, by the referenced stack's name
            (`org/project/stack`, as given to `pulumi.StackReference`); may be changed later.
        default_stack_outputs: the outputs of a referenced stack that `stack_outputs` lacks
            (called with its name); by default it has none.

    Subclass and override `outputs_for` (or `call`) to answer for a type this one does not
    know; unknown types get their inputs echoed, an id `<name>-<12 hex>` and, for AWS types, an
    ARN `arn:aws:<service>:<region>:<account>:<type>/<id>`.
    """

    def __init__(
        self,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        *,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        default_stack_outputs: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.stack_outputs: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (stack_outputs or {}).items()
        }
        self.default_stack_outputs = default_stack_outputs or (lambda _name: {})
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        # By the order the monitor received them (registrations finish on several threads).
        self._registrations: dict[int, Registration] = {}
        self._urns: dict[str, int] = {}
        self.monitor = MockCloudMonitor(self)

    # --- what tests read -----------------------------------------------------------------------

    def registrations(self) -> list[Registration]:
        """Every registration so far, in the order the program declared them."""
        with self._lock:
            return [self._registrations[index] for index in sorted(self._registrations)]

    def of_type(self, type_token: str, prefix: str = "") -> list[Registration]:
        """Registrations of `type_token` whose logical name starts with `prefix`."""
        return [
            r for r in self.registrations() if r.type == type_token and r.name.startswith(prefix)
        ]

    def named(self, name: str) -> Registration:
        """The one registration of logical name `name`; `LookupError` if not exactly one."""
        found = [r for r in self.registrations() if r.name == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} registrations named {name!r}")
        return found[0]

    def under(self, prefix: str) -> list[Registration]:
        """Registrations whose logical name starts with `prefix`."""
        return [r for r in self.registrations() if r.name.startswith(prefix)]

    def by_urn(self, urn: str) -> Registration:
        """The registration of `urn`; `LookupError` if there is none."""
        for registration in self.registrations():
            if registration.urn == urn:
                return registration
        raise LookupError(f"no registration {urn}")

    def reset(self) -> None:
        """Forget every registration and URN (to evaluate a program again in this process)."""
        with self._lock:
            self._registrations.clear()
            self._urns.clear()
            self.calls.clear()
        self.monitor.resources.clear()

    # --- what the monitor calls ----------------------------------------------------------------

    def _claim(self, urn: str) -> int:
        with self._lock:
            if urn in self._urns:
                raise DuplicateUrnError(urn)
            self._urns[urn] = len(self._urns)
            return self._urns[urn]

    def _record(self, registration: Registration) -> None:
        with self._lock:
            self._registrations[self._urns[registration.urn]] = registration

    # --- pulumi.runtime.Mocks ------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        arguments = whole_numbers(dict(args.args))
        with self._lock:
            self.calls.append((args.token, arguments))
        answer = self.invoke(args.token, arguments)
        return ({**arguments, **answer} if answer is not None else arguments), []

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """What the data source `token` returns for `args`; None for an unknown one (the
        arguments are then echoed, as the SDK's plain mocks do)."""
        region, account = self.region, self.account_id
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": account,
                "arn": f"arn:{PARTITION}:iam::{account}:user/ci",
                "userId": "AIDACKCEVSQ6C2EXAMPLE",
                "id": account,
            }
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": PARTITION,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "region": region,
                "name": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{region}{x}" for x in letters],
                "zoneIds": [f"{_zone_prefix(region)}-az{i + 1}" for i in range(len(letters))],
                "id": region,
            }
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "mock-password",
                "authorizationToken": "QVdTOm1vY2stcGFzc3dvcmQ=",
                "proxyEndpoint": f"https://{account}.dkr.ecr.{region}.amazonaws.com",
                "id": region,
            }
        if token == "aws:ec2/getVpc:getVpc":
            vpc_id = str(args.get("id") or f"vpc-0{_digest(token, args)[:16]}")
            return {
                "id": vpc_id,
                "arn": f"arn:{PARTITION}:ec2:{region}:{account}:vpc/{vpc_id}",
                "cidrBlock": args.get("cidrBlock") or "10.0.0.0/16",
                "ownerId": account,
                "enableDnsHostnames": True,
                "enableDnsSupport": True,
            }
        if token == "aws:ec2/getSubnet:getSubnet":
            subnet_id = str(args.get("id") or f"subnet-0{_digest(token, args)[:16]}")
            zone = "abcdef"[int(_digest(subnet_id)[:8], 16) % 6]
            return {
                "id": subnet_id,
                "arn": f"arn:{PARTITION}:ec2:{region}:{account}:subnet/{subnet_id}",
                "vpcId": args.get("vpcId") or f"vpc-0{_digest('vpc', subnet_id)[:16]}",
                "availabilityZone": f"{region}{zone}",
                "ownerId": account,
                "mapPublicIpOnLaunch": False,
            }
        return None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        raw_inputs = whole_numbers(dict(args.inputs))
        inputs = unwrap_secrets(raw_inputs)
        seed = getattr(self._local, "urn", "") or f"{args.typ}::{args.name}"
        resource_id, state = self.outputs_for(args.typ, args.name, inputs, seed)
        if args.resource_id:  # a read or an import names the resource it means
            resource_id = args.resource_id
        # What the provider returns keeps the inputs' secrecy.
        state = {**state, **{k: v for k, v in raw_inputs.items() if is_wire_secret(v)}}
        return resource_id, state

    # --- outputs shaped like AWS's -------------------------------------------------------------

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        """`arn:aws:<service>:<region>:<account>:<resource>` (region/account left empty when
        the service's ARNs have none, as IAM's and S3's)."""
        return (
            f"arn:{PARTITION}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def outputs_for(
        self, type_: str, name: str, inputs: dict[str, Any], seed: str
    ) -> tuple[str, dict[str, Any]]:
        """The id and output properties of a resource of `type_` declared as `name` with
        `inputs` (plain values); `seed` (its URN) makes the generated ids unique and stable."""
        short = _digest(seed)
        state: dict[str, Any] = dict(inputs)
        if type_.startswith("pulumi:providers:"):
            return f"provider-{short[:12]}", state
        if type_ == "pulumi:pulumi:StackReference":
            source = str(inputs.get("name") or name)
            outputs = self.stack_outputs.get(source)
            if outputs is None:
                outputs = dict(self.default_stack_outputs(source))
            state.update(name=source, outputs=dict(outputs), secretOutputNames=[])
            return source, state
        if type_ == "eks:index:Cluster":
            return self._eks_cluster(name, inputs, short, state)
        if type_.startswith("aws:"):
            return self._aws(type_, name, inputs, short, state)
        if type_.startswith("docker-build:"):
            tags = inputs.get("tags") or ([inputs["tag"]] if inputs.get("tag") else [name])
            digest = f"sha256:{_digest(short, tags)}"
            state.update(digest=digest, ref=f"{tags[0]}@{digest}")
            return f"{name}-{short[:12]}", state
        if type_.startswith("kubernetes:"):
            return self._kubernetes(type_, name, short, state)
        return f"{name}-{short[:12]}", state

    def _eks_cluster(
        self, name: str, inputs: dict[str, Any], short: str, state: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """pulumi-eks's Cluster component: endpoint, OIDC issuer and a kubeconfig using
        `aws eks get-token`, as `eks.Cluster` outputs them."""
        cluster_name = str(inputs.get("name") or f"{name}-eksCluster-{short[:7]}")
        host = short[:32].upper()
        endpoint = f"https://{host}.gr7.{self.region}.eks.amazonaws.com"
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{host}"
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubernetes",
                    "cluster": {"server": endpoint, "certificate-authority-data": MOCK_CA_DATA},
                }
            ],
            "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
            "current-context": "aws",
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name],
                        }
                    },
                }
            ],
        }
        state.update(
            kubeconfig=kubeconfig,
            kubeconfigJson=json.dumps(kubeconfig),
            oidcProviderArn=self.arn("iam", f"oidc-provider/{issuer}", region=False),
            oidcProviderUrl=f"https://{issuer}",
            oidcIssuer=issuer,
            nodeSecurityGroupId=f"sg-0{short[16:32]}",
            clusterSecurityGroupId=f"sg-0{short[32:48]}",
            clusterIngressRuleId=f"sgr-0{short[48:64]}",
            eksClusterName=cluster_name,
            endpoint=endpoint,
        )
        return cluster_name, state

    def _aws(
        self, type_: str, name: str, inputs: dict[str, Any], short: str, state: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        region, account = self.region, self.account_id
        service = type_.split(":")[1].split("/")[0]
        autoname = f"{name}-{short[:7]}"  # Pulumi's auto-naming: logical name + 7 random hex
        if type_ in _ID_PREFIXES:
            rid = f"{_ID_PREFIXES[type_]}-0{short[:16]}"
            if type_ in _EC2_ARN_KINDS:
                state["arn"] = self.arn("ec2", f"{_EC2_ARN_KINDS[type_]}/{rid}")
            if type_ == "aws:ec2/vpc:Vpc":
                state.update(
                    defaultSecurityGroupId=f"sg-0{short[16:32]}",
                    mainRouteTableId=f"rtb-0{short[32:48]}",
                    defaultNetworkAclId=f"acl-0{short[48:64]}",
                    ownerId=account,
                )
            elif type_ == "aws:ec2/subnet:Subnet":
                state.setdefault("availabilityZone", f"{region}a")
                state["ownerId"] = account
            elif type_ == "aws:ec2/securityGroup:SecurityGroup":
                state.setdefault("name", autoname)
                state["ownerId"] = account
            elif type_ == "aws:ec2/eip:Eip":
                state.update(
                    allocationId=rid, publicIp=f"198.51.100.{int(short[:2], 16) % 254 + 1}"
                )
            elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
                state.update(latestVersion=1, defaultVersion=1)
                state.setdefault("name", autoname)
            elif type_ == "aws:efs/fileSystem:FileSystem":
                state.update(
                    arn=self.arn("elasticfilesystem", f"file-system/{rid}"),
                    dnsName=f"{rid}.efs.{region}.amazonaws.com",
                    ownerId=account,
                )
            elif type_ == "aws:efs/accessPoint:AccessPoint":
                state["arn"] = self.arn("elasticfilesystem", f"access-point/{rid}")
                state["fileSystemArn"] = self.arn(
                    "elasticfilesystem", f"file-system/{inputs.get('fileSystemId')}"
                )
            elif type_ == "aws:efs/mountTarget:MountTarget":
                state["dnsName"] = f"{inputs.get('fileSystemId')}.efs.{region}.amazonaws.com"
            return rid, state
        if type_ == "aws:s3/bucket:Bucket" or type_ == "aws:s3/bucketV2:BucketV2":
            bucket = (
                inputs.get("bucket") or f"{inputs.get('bucketPrefix') or name + '-'}{short[:7]}"
            )
            state.update(
                bucket=bucket,
                arn=f"arn:{PARTITION}:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com",
                region=region,
            )
            return bucket, state
        if type_ == "aws:s3/bucketObjectv2:BucketObjectv2":
            body = inputs.get("content") or inputs.get("contentBase64") or inputs.get("source")
            state.update(
                versionId=_digest(inputs.get("key"), body)[:32],
                etag=_digest(body)[:32],
            )
            return f"{inputs.get('bucket')}/{inputs.get('key')}", state
        if type_ == "aws:kms/key:Key":
            key_id = str(uuid.UUID(hex=short[:32]))
            state.update(arn=self.arn("kms", f"key/{key_id}"), keyId=key_id)
            return key_id, state
        if type_ == "aws:kms/alias:Alias":
            alias = inputs.get("name") or f"alias/{autoname}"
            state.update(name=alias, arn=self.arn("kms", alias))
            return alias, state
        if type_ in ("aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/user:User"):
            kind = type_.rsplit(":", 1)[1].lower()
            iam_name = inputs.get("name") or autoname
            path = inputs.get("path") or "/"
            unique = {"role": "AROA", "policy": "ANPA", "user": "AIDA"}[kind]
            state.update(
                name=iam_name,
                arn=self.arn("iam", f"{kind}{path}{iam_name}", region=False),
                uniqueId=f"{unique}{short[:17].upper()}",
            )
            if kind == "policy":
                state["policyId"] = state.pop("uniqueId")
            return iam_name, state
        if type_ == "aws:iam/instanceProfile:InstanceProfile":
            profile = inputs.get("name") or autoname
            state.update(
                name=profile, arn=self.arn("iam", f"instance-profile/{profile}", region=False)
            )
            return profile, state
        if type_ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            issuer = str(inputs.get("url", "")).removeprefix("https://")
            arn = self.arn("iam", f"oidc-provider/{issuer}", region=False)
            state["arn"] = arn
            return arn, state
        if type_ == "aws:cloudwatch/logGroup:LogGroup":
            group = inputs.get("name") or autoname
            state.update(name=group, arn=self.arn("logs", f"log-group:{group}"))
            return group, state
        if type_ == "aws:ecr/repository:Repository":
            repository = inputs.get("name") or name
            state.update(
                name=repository,
                arn=self.arn("ecr", f"repository/{repository}"),
                repositoryUrl=f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}",
                registryId=account,
            )
            return repository, state
        if type_ == "aws:mwaa/environment:Environment":
            environment = inputs.get("name") or autoname
            state.update(
                name=environment,
                arn=self.arn("airflow", f"environment/{environment}"),
                webserverUrl=f"{uuid.UUID(hex=short[:32])}.c2.{region}.airflow.amazonaws.com",
                serviceRoleArn=self.arn(
                    "iam",
                    "role/aws-service-role/airflow.amazonaws.com/AWSServiceRoleForAmazonMWAA",
                    region=False,
                ),
                status="AVAILABLE",
            )
            return environment, state
        if type_ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name") or autoname
            host = short[:32].upper()
            state.update(
                name=cluster,
                arn=self.arn("eks", f"cluster/{cluster}"),
                endpoint=f"https://{host}.gr7.{region}.eks.amazonaws.com",
                certificateAuthority={"data": MOCK_CA_DATA},
                identities=[
                    {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{host}"}]}
                ],
                status="ACTIVE",
            )
            return cluster, state
        if type_ == "aws:eks/nodeGroup:NodeGroup":
            group = inputs.get("nodeGroupName") or autoname
            cluster = inputs.get("clusterName")
            state.update(
                nodeGroupName=group,
                arn=self.arn("eks", f"nodegroup/{cluster}/{group}/{uuid.UUID(hex=short[:32])}"),
                status="ACTIVE",
            )
            return f"{cluster}:{group}", state
        if type_ == "aws:eks/addon:Addon":
            cluster, addon = inputs.get("clusterName"), inputs.get("addonName")
            state["arn"] = self.arn("eks", f"addon/{cluster}/{addon}/{uuid.UUID(hex=short[:32])}")
            state.setdefault("addonVersion", "v2.1.0-eksbuild.1")
            return f"{cluster}:{addon}", state
        if type_ == "aws:eks/accessEntry:AccessEntry":
            cluster, principal = inputs.get("clusterName"), inputs.get("principalArn")
            state["accessEntryArn"] = self.arn(
                "eks", f"access-entry/{cluster}/role/{self.account_id}/{uuid.UUID(hex=short[:32])}"
            )
            return f"{cluster}:{principal}", state
        if type_ == "aws:amp/workspace:Workspace":
            workspace = f"ws-{uuid.UUID(hex=short[:32])}"
            state.update(
                arn=self.arn("aps", f"workspace/{workspace}"),
                prometheusEndpoint=(
                    f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace}/"
                ),
            )
            return workspace, state
        if type_ == "aws:amp/scraper:Scraper":
            scraper = f"s-{uuid.UUID(hex=short[:32])}"
            # AMP creates a service-linked role per scraper, under its service path.
            state.update(
                arn=self.arn("aps", f"scraper/{scraper}"),
                roleArn=self.arn(
                    "iam",
                    "role/aws-service-role/scraper.aps.amazonaws.com/"
                    f"AWSServiceRoleForAmazonPrometheusScraper_{short[32:39]}-{short[39:46]}",
                    region=False,
                ),
            )
            return scraper, state
        if type_ == "aws:sns/topic:Topic":
            topic = inputs.get("name") or autoname
            arn = self.arn("sns", topic)
            state.update(name=topic, arn=arn)
            return arn, state  # a topic's id is its ARN
        if type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            alarm = inputs.get("name") or autoname
            state.update(name=alarm, arn=self.arn("cloudwatch", f"alarm:{alarm}"))
            return alarm, state
        if type_ == "aws:cloudwatch/dashboard:Dashboard":
            dashboard = inputs.get("dashboardName") or autoname
            state["dashboardArn"] = self.arn("cloudwatch", f"dashboard/{dashboard}", region=False)
            return dashboard, state
        rid = f"{name}-{short[:12]}"
        if "arn" not in state:
            kind = type_.rsplit(":", 1)[1].lower()
            state["arn"] = self.arn(service, f"{kind}/{rid}")
        return rid, state

    def _kubernetes(
        self, type_: str, name: str, short: str, state: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        metadata = dict(state.get("metadata") or {})
        # Pulumi's Kubernetes provider auto-names as logical name + "-" + 8 random characters.
        metadata.setdefault("name", f"{name}-{short[:8]}")
        metadata.setdefault("uid", str(uuid.UUID(hex=short[:32])))
        state["metadata"] = metadata
        namespace = metadata.get("namespace")
        if type_ == "kubernetes:core/v1:Service":
            spec = dict(state.get("spec") or {})
            spec.setdefault("clusterIP", f"172.20.{int(short[:2], 16)}.{int(short[2:4], 16)}")
            state["spec"] = spec
            if spec.get("type") == "LoadBalancer":
                host = f"k8s-{str(namespace or 'default')[:8]}-{metadata['name'][:8]}-{short[:10]}"
                state["status"] = {
                    "loadBalancer": {
                        "ingress": [{"hostname": f"{host}.elb.{self.region}.amazonaws.com"}]
                    }
                }
        resource_id = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
        return resource_id, state


def _zone_prefix(region: str) -> str:
    """The zone id prefix AWS uses for a region (`us-east-1` -> `use1`)."""
    parts = region.split("-")
    return parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]


class MockCloudMonitor(sdk_mocks.MockMonitor):
    """The SDK's mock monitor, with the engine's duplicate-URN check and a record of each
    registration for `MockCloud`; resource references turned off (see the module docstring)."""

    def __init__(self, cloud: MockCloud) -> None:
        super().__init__(cloud)
        self.cloud = cloud

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the parent's whole type chain before the type
        (`A$B$aws:ec2/vpc:Vpc`), none for a resource of the stack itself. (The SDK's mock
        monitor keeps only the parent's last type and prefixes the stack's.)"""
        if parent:
            chain = parent.split("::")[2]
            if chain != STACK_TYPE:
                type_ = f"{chain}${type_}"
        return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        self.cloud._claim(urn)
        response = self._with_urn(urn, super().RegisterResource, request)
        self._record(
            request,
            request.object,
            urn,
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            read=False,
        )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        urn = self.make_urn(request.parent, request.type, request.name)
        self.cloud._claim(urn)
        response = self._with_urn(urn, super().ReadResource, request)
        self._record(
            request,
            request.properties,
            urn,
            custom=True,
            protect=False,
            retain_on_delete=False,
            read=True,
        )
        return response

    def _with_urn(self, urn: str, method: Callable[[Any], Any], request: Any) -> Any:
        local = self.cloud._local
        local.urn = urn
        try:
            return method(request)
        finally:
            local.urn = ""

    def _record(
        self,
        request: Any,
        properties: Any,
        urn: str,
        *,
        custom: bool,
        protect: bool,
        retain_on_delete: bool,
        read: bool,
    ) -> None:
        wire = whole_numbers(rpc.deserialize_properties(properties, keep_unknowns=True))
        registered = self.resources[urn]
        self.cloud._record(
            Registration(
                type=request.type,
                name=request.name,
                urn=urn,
                id=str(registered.id or ""),
                inputs=unwrap_secrets(wire),
                state=unwrap_secrets(whole_numbers(registered.state)),
                secret_inputs=frozenset(k for k, v in wire.items() if is_wire_secret(v)),
                parent=request.parent or "",
                protect=protect,
                retain_on_delete=retain_on_delete,
                dependencies=tuple(sorted(set(getattr(request, "dependencies", ())))),
                provider=request.provider or "",
                custom=custom,
                read=read,
                wire_inputs=wire,
            )
        )

    def SupportsFeature(self, request: Any) -> Any:  # noqa: N802
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802
        info = super().GetDeploymentInfo(request)
        features = [
            feature
            for feature in info.supportedFeatures
            if feature != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES
        ]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


def install(
    cloud: MockCloud | None = None,
    *,
    project: str = "project",
    stack: str = "stack",
    organization: str = ORGANIZATION,
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
) -> MockCloud:
    """Make `cloud` (a new `MockCloud` by default) the process's Pulumi mocks and return it.

    `set_mocks` is process-global: install once per process (a session-scoped pytest fixture).
    `config` (`namespace:key` -> string, JSON for structured values, as the engine passes
    config) replaces the program's configuration; `secret_keys` are the keys read as secrets.
    """
    cloud = cloud or MockCloud()
    if config is not None:
        runtime_config.set_all_config(dict(config), list(secret_keys))
    pulumi.runtime.set_mocks(
        cloud,
        project=project,
        stack=stack,
        preview=False,
        monitor=cloud.monitor,
        organization=organization,
    )
    return cloud


def run(program: Callable[[], T]) -> T:
    """Run `program` like `pulumi up` would under the mocks: return what it returned once every
    resource it declared (and every apply they wait for) has registered; re-raise what it
    raised (a `DuplicateUrnError` too)."""
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    result: dict[str, T] = {}

    def body() -> None:
        result["value"] = program()

    try:
        _sync_await(run_pulumi_func(body))
    except BaseException as error:
        # Every future of the failed registrations holds this error; it is raised here, so
        # none of them should log it again ("exception was never retrieved") when collected,
        # which happens at a random later point: inside ast.parse, CPython 3.11.7 then fails
        # with a SystemError.
        for holder in gc.get_referrers(error):
            if isinstance(holder, asyncio.Future) and holder.done():
                holder.exception()  # marks it retrieved
        raise
    return result["value"]


def resolve(value: Any) -> Any:
    """The value of an Output (or a plain value) after `run`."""
    return _sync_await(pulumi.Output.from_input(value).future())


def resolve_all(values: Iterable[Any]) -> list[Any]:
    """`resolve` for each of `values`."""
    return [resolve(v) for v in values]


def is_secret(output: pulumi.Output[Any]) -> bool:
    """Whether `output` is marked secret."""
    return bool(_sync_await(output.is_secret()))


def is_known(output: pulumi.Output[Any]) -> bool:
    """Whether `output`'s value is known (not computed during a preview)."""
    return bool(_sync_await(output.is_known()))


def depends_on_transitively(cloud: MockCloud, registration: Registration) -> set[str]:
    """URNs of everything `registration` waits for, directly or through its dependencies."""
    by_urn = {r.urn: r for r in cloud.registrations()}
    seen: set[str] = set()
    pending = list(registration.dependencies)
    while pending:
        urn = pending.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn in by_urn:
            pending.extend(by_urn[urn].dependencies)
    return seen
