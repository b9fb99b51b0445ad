"""One set of Pulumi mocks for the whole test session: plausible ids, ARNs and outputs for every
resource type the platform declares, and a record of each registration (type, name, inputs and
options) for assertions.

Resource references are reported as unsupported, so that no Resource object crosses the mock
monitor (the upstream "attached to a different loop" bug). `run` executes a program and waits
for every registration; `resolve` then reads an Output's value.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import mocks as pulumi_mocks_runtime
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

T = TypeVar("T")

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
MOCK_CA_DATA = "TU9DSy1DQQ=="  # base64 of "MOCK-CA"


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """`value` with every secret replaced by what it hides (how tests read inputs)."""
    if _is_secret(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True)
class Registration:
    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]  # secrets unwrapped; their top-level keys are in secret_inputs
    state: dict[str, Any]
    secret_inputs: frozenset[str]
    parent: str
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]
    provider: str
    custom: bool


@dataclass
class _Calls:
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class LiminalMocks(pulumi.runtime.Mocks):
    """Mocks whose registrations are inspected with `registrations`, `of_type` and `named`."""

    def __init__(self, region: str = REGION, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self._lock = threading.Lock()
        self._local = threading.local()
        self._registrations: list[Registration] = []
        self.calls = _Calls()

    # --- what tests read ---------------------------------------------------------------------

    def registrations(self) -> list[Registration]:
        with self._lock:
            return list(self._registrations)

    def of_type(self, type_token: str, prefix: str = "") -> list[Registration]:
        return [
            r for r in self.registrations() if r.type == type_token and r.name.startswith(prefix)
        ]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations() if r.name == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} registrations named {name!r}")
        return found[0]

    def under(self, prefix: str) -> list[Registration]:
        return [r for r in self.registrations() if r.name.startswith(prefix)]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations() if r.urn == urn)

    # --- pulumi.runtime.Mocks ----------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        with self._lock:
            self.calls.log.append((args.token, dict(args.args)))
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:{PARTITION}:iam::{self.account_id}:user/ci",
                "userId": "AIDAMOCK",
                "id": self.account_id,
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": PARTITION,
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {
                "region": self.region,
                "name": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": "mock region",
            }, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{self.region}{x}" for x in letters],
                "zoneIds": [f"use1-az{i + 1}" for i in range(len(letters))],
                "id": self.region,
            }, []
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "mock-password",
                "authorizationToken": "QVdTOm1vY2s=",
                "proxyEndpoint": f"https://{self.account_id}.dkr.ecr.{self.region}.amazonaws.com",
                "id": self.region,
            }, []
        return dict(args.args), []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        raw_inputs = dict(args.inputs)
        inputs = unwrap_secrets(raw_inputs)
        resource_id, state = self._outputs(args.typ, args.name, inputs)
        # What the provider returns keeps the inputs' secrecy.
        state = {**state, **{k: v for k, v in raw_inputs.items() if _is_secret(v)}}
        request = getattr(self._local, "request", None)
        urn = getattr(self._local, "urn", "")
        registration = Registration(
            type=args.typ,
            name=args.name,
            urn=urn,
            id=resource_id,
            inputs=inputs,
            state=unwrap_secrets(state),
            secret_inputs=frozenset(k for k, v in raw_inputs.items() if _is_secret(v)),
            parent=getattr(request, "parent", ""),
            protect=bool(getattr(request, "protect", False)),
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
            dependencies=tuple(getattr(request, "dependencies", ())),
            provider=args.provider or "",
            custom=args.custom,
        )
        with self._lock:
            self._registrations.append(registration)
        return resource_id, state

    # --- plausible outputs -------------------------------------------------------------------

    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{PARTITION}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def _outputs(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        short = _digest(typ, name)[:12]
        state: dict[str, Any] = dict(inputs)
        rid = f"{name}-{short}"
        service = typ.split(":")[1].split("/")[0] if typ.startswith("aws:") else ""
        if typ.startswith("pulumi:providers:"):
            return f"provider-{short}", state
        if typ == "eks:index:Cluster":
            cluster_name = inputs.get("name") or f"{name}-{short[:7]}"
            endpoint = f"https://{short.upper()}.gr7.{self.region}.eks.amazonaws.com"
            issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{short.upper()}"
            kubeconfig = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "kubernetes",
                        "cluster": {
                            "server": endpoint,
                            "certificate-authority-data": MOCK_CA_DATA,
                        },
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
                oidcProviderArn=self._arn("iam", f"oidc-provider/{issuer}", region=False),
                oidcProviderUrl=f"https://{issuer}",
                oidcIssuer=issuer,
                nodeSecurityGroupId=f"sg-node{short[:10]}",
                clusterSecurityGroupId=f"sg-cluster{short[:8]}",
                clusterIngressRuleId=f"sgr-{short}",
            )
            return f"{cluster_name}", state
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{short[:7]}"
            state.update(
                bucket=bucket,
                arn=f"arn:{PARTITION}:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{bucket}.s3.{self.region}.amazonaws.com",
                region=self.region,
            )
            return bucket, state
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            body = inputs.get("content") or inputs.get("contentBase64") or inputs.get("source")
            state.update(
                versionId=f"v-{_digest(inputs.get('key'), body)[:16]}",
                etag=_digest(body)[:32],
            )
            return f"{inputs.get('bucket')}/{inputs.get('key')}", state
        if typ == "aws:kms/key:Key":
            key_id = f"{short[:8]}-mock-{short[8:12]}"
            state.update(arn=self._arn("kms", f"key/{key_id}"), keyId=key_id)
            return key_id, state
        if typ == "aws:iam/role:Role":
            role_name = inputs.get("name") or f"{name}-{short[:7]}"
            path = inputs.get("path", "/")
            state.update(
                name=role_name,
                arn=self._arn("iam", f"role{path}{role_name}", region=False),
                uniqueId=f"AROA{short.upper()}",
            )
            return role_name, state
        if typ == "aws:mwaa/environment:Environment":
            env = inputs.get("name", name)
            state.update(
                arn=self._arn("airflow", f"environment/{env}"),
                webserverUrl=f"{short}.c1.{self.region}.airflow.amazonaws.com",
                serviceRoleArn=self._arn(
                    "iam",
                    "role/aws-service-role/airflow.amazonaws.com/AWSServiceRoleForAmazonMWAA",
                    region=False,
                ),
                status="AVAILABLE",
            )
            return env, state
        if typ == "aws:ecr/repository:Repository":
            repo = inputs.get("name") or name
            state.update(
                arn=self._arn("ecr", f"repository/{repo}"),
                repositoryUrl=f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{repo}",
                registryId=self.account_id,
                name=repo,
            )
            return repo, state
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1, arn=self._arn("ec2", f"lt/{rid}"))
            return f"lt-{short}", state
        if typ.startswith("docker-build:"):
            tags = inputs.get("tags") or ([inputs["tag"]] if inputs.get("tag") else [name])
            digest = f"sha256:{_digest(name, tags)}"
            state.update(digest=digest, ref=f"{str(tags[0]).split(':')[0]}@{digest}")
            return f"{name}-{short}", state
        if typ.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", f"{name}-{short[:8]}")
            metadata.setdefault("uid", short)
            state["metadata"] = metadata
            if typ == "kubernetes:core/v1:Service":
                spec = dict(state.get("spec") or {})
                spec.setdefault("clusterIP", "172.20.0.10")
                state["spec"] = spec
                state.setdefault(
                    "status",
                    {"loadBalancer": {"ingress": [{"hostname": f"{short}.elb.amazonaws.com"}]}},
                )
            return metadata["name"], state
        prefixes = {
            "aws:ec2/vpc:Vpc": "vpc",
            "aws:ec2/subnet:Subnet": "subnet",
            "aws:ec2/securityGroup:SecurityGroup": "sg",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
            "aws:ec2/natGateway:NatGateway": "nat",
            "aws:ec2/eip:Eip": "eipalloc",
            "aws:ec2/internetGateway:InternetGateway": "igw",
            "aws:ec2/routeTable:RouteTable": "rtb",
            "aws:ec2/flowLog:FlowLog": "fl",
            "aws:efs/fileSystem:FileSystem": "fs",
            "aws:efs/accessPoint:AccessPoint": "fsap",
            "aws:efs/mountTarget:MountTarget": "fsmt",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
        }
        if typ in prefixes:
            rid = f"{prefixes[typ]}-{short}"
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            rid = inputs.get("name") or f"{name}-{short[:7]}"
            state["name"] = rid
            state["arn"] = self._arn("logs", f"log-group:{rid}")
            return rid, state
        if typ == "aws:efs/fileSystem:FileSystem":
            state["arn"] = self._arn("elasticfilesystem", f"file-system/{rid}")
            state["dnsName"] = f"{rid}.efs.{self.region}.amazonaws.com"
        elif typ == "aws:efs/accessPoint:AccessPoint":
            state["arn"] = self._arn("elasticfilesystem", f"access-point/{rid}")
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            state["arn"] = self._arn("eks", f"nodegroup/{inputs.get('clusterName')}/{rid}")
            state["status"] = "ACTIVE"
        elif typ == "aws:eks/addon:Addon":
            state["arn"] = self._arn("eks", f"addon/{inputs.get('clusterName')}/{rid}")
            state.setdefault("addonVersion", "v2.1.0-eksbuild.1")
        elif typ == "aws:amp/scraper:Scraper":
            state["arn"] = self._arn("aps", f"scraper/s-{short}")
            # AMP creates a service-linked role per scraper, under its service path.
            state["roleArn"] = self._arn(
                "iam",
                "role/aws-service-role/scraper.aps.amazonaws.com/"
                f"AWSServiceRoleForAmazonPrometheusScraper_{short[:7]}",
                region=False,
            )
        elif typ == "aws:eks/accessEntry:AccessEntry":
            state["accessEntryArn"] = self._arn("eks", f"access-entry/{rid}")
        elif service and "arn" not in state:
            state["arn"] = self._arn(service, rid)
        return rid, state


class LiminalMonitor(pulumi_mocks_runtime.MockMonitor):
    """Hands each registration's options to the mocks, and turns resource references off."""

    def __init__(self, mocks: LiminalMocks) -> None:
        super().__init__(mocks)
        self._liminal_mocks = mocks

    def RegisterResource(self, request):  # noqa: N802 (gRPC name)
        local = self._liminal_mocks._local
        local.request = request
        local.urn = self.make_urn(request.parent, request.type, request.name)
        try:
            return super().RegisterResource(request)
        finally:
            local.request = None
            local.urn = ""

    def SupportsFeature(self, request):  # noqa: N802
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request):  # noqa: N802
        info = super().GetDeploymentInfo(request)
        features = [
            f
            for f in info.supportedFeatures
            if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES
        ]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


def install(
    mocks: LiminalMocks | None = None, project: str = "liminal", stack: str = "test"
) -> LiminalMocks:
    """Make `mocks` the process's Pulumi mocks (once per session: set_mocks is global)."""
    mocks = mocks or LiminalMocks()
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=LiminalMonitor(mocks)
    )
    return mocks


def run(program: Callable[[], T]) -> T:
    """Run `program` like `pulumi up` would under mocks: return once every resource it declared
    (and every apply they depend on) has registered; re-raise what the program raised."""
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    result: dict[str, T] = {}

    def body() -> None:
        result["value"] = program()

    _sync_await(run_pulumi_func(body))
    return result["value"]


def resolve(value: Any) -> Any:
    """The value of an Output (or a plain value) after `run`."""
    return _sync_await(pulumi.Output.from_input(value).future())


def resolve_all(values: Iterable[Any]) -> list[Any]:
    return [resolve(v) for v in values]


def depends_on_transitively(mocks: LiminalMocks, registration: Registration) -> set[str]:
    """URNs of everything `registration` waits for, directly or through its dependencies."""
    by_urn = {r.urn: r for r in mocks.registrations()}
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


def is_secret(output: pulumi.Output[Any]) -> bool:
    return bool(_sync_await(output.is_secret()))
