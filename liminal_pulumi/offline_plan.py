"""`liminal plan`: the resources a stack would hold, from the real program run under mocks.

The Pulumi program (`infra/__main__.py`) runs in this process under the SDK's mocks with the
config of `stacks/Pulumi.<stack>.yaml`, so a plan needs no cloud credentials and no Pulumi CLI.
Every registration is recorded (type, name, parent, inputs, protection, dependencies); the result
prints as a tree by component, serialises to JSON, and two JSON plans diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc

from liminal_pulumi import defaults

PULUMI_PROJECT = "liminal"
SECRET = "[secret]"
UNKNOWN = "[unknown]"
PLAN_ORGANIZATION = "organization"
# Digests a plan's mocked source stack reports for a promotion (no registry is read offline).
PLAN_DIGEST = "sha256:" + "0" * 64


class PlanError(Exception):
    """A user-facing problem with a plan's inputs (stack file, settings, liminal.yml)."""


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]
    inputs: dict[str, Any]


@dataclass
class Plan:
    stack: str
    project: str
    settings: dict[str, Any]
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def to_json(self) -> str:
        data = {
            "stack": self.stack,
            "project": self.project,
            "settings": self.settings,
            "counts": self.counts(),
            "outputs": self.outputs,
            "resources": [asdict(r) for r in self.resources],
        }
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        resources = [
            PlannedResource(**{**r, "dependencies": tuple(r["dependencies"])})
            for r in data["resources"]
        ]
        return cls(data["stack"], data["project"], data["settings"], resources, data["outputs"])

    def by_urn(self) -> dict[str, PlannedResource]:
        return {r.urn: r for r in self.resources}

    def children(self) -> dict[str | None, list[PlannedResource]]:
        known = {r.urn for r in self.resources}
        tree: dict[str | None, list[PlannedResource]] = {}
        for r in self.resources:
            parent = r.parent if r.parent in known else None
            tree.setdefault(parent, []).append(r)
        return tree

    def ancestors(self, urn: str) -> set[str]:
        """Everything `urn` waits for: its dependencies, transitively."""
        resources = self.by_urn()
        seen: set[str] = set()
        pending = [urn]
        while pending:
            current = resources.get(pending.pop())
            for dependency in current.dependencies if current else ():
                if dependency not in seen:
                    seen.add(dependency)
                    pending.append(dependency)
        return seen


# --- the diff ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDiff:
    added: list[str]
    removed: list[str]
    # urn -> names of the inputs (or options) that differ
    changed: dict[str, list[str]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    before, after = old.by_urn(), new.by_urn()
    changed: dict[str, list[str]] = {}
    for urn in sorted(before.keys() & after.keys()):
        a, b = before[urn], after[urn]
        keys = sorted(
            key
            for key in a.inputs.keys() | b.inputs.keys()
            if a.inputs.get(key) != b.inputs.get(key)
        )
        keys += [
            f"[{option}]"
            for option in ("protect", "retain_on_delete")
            if getattr(a, option) != getattr(b, option)
        ]
        if keys:
            changed[urn] = keys
    return PlanDiff(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=changed,
    )


# --- stack files ------------------------------------------------------------------------------


def find_repo_root(start: Path) -> Path:
    """The folder of `Pulumi.yaml` at or above `start`, else the checkout this package is in."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[1]


def stack_config(repo_root: Path, stack: str) -> dict[str, str]:
    """A stack file's config as the engine hands it to a program: strings, JSON for the rest."""
    pulumi_yaml = yaml.safe_load((repo_root / "Pulumi.yaml").read_text()) or {}
    stacks_dir = repo_root / pulumi_yaml.get("stackConfigDir", ".")
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise PlanError(f"{path}: no such stack file (stacks: {', '.join(known) or 'none'})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise PlanError(f"{path}: not valid YAML: {error}") from None
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise PlanError(f"{path}: `config` must be a mapping of key to value")
    values: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and "secure" in value:
            values[str(key)] = SECRET  # encrypted values cannot be read offline
        elif isinstance(value, str):
            values[str(key)] = value
        else:
            values[str(key)] = json.dumps(value)
    return values


# --- running the program under mocks ----------------------------------------------------------


def _plain(value: Any) -> Any:
    """Inputs as JSON: secrets masked, assets by content hash, nested values converted."""
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, pulumi.StringAsset):
        text = value.text.encode()
        return {"asset": "text", "sha256": hashlib.sha256(text).hexdigest(), "bytes": len(text)}
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {"asset": "file", "name": path.name, "sha256": digest}
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {"asset": type(value).__name__}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


ACCOUNT = "123456789012"


def mock_state(type_: str, name: str, inputs: dict[str, Any], cloud: MockCloud) -> dict[str, Any]:
    """Outputs a cloud would report, enough for the program's own wiring to resolve."""
    region = cloud.region
    arn_name = inputs.get("name") or name
    service = type_.split(":")[1].split("/")[0]
    state: dict[str, Any] = {**inputs, "arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{arn_name}"}
    state.setdefault("name", name)
    if type_ == "aws:ecr/repository:Repository":
        url = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{state['name']}"
        state.update(repositoryUrl=url, registryId=ACCOUNT)
    elif type_ == "eks:index:Cluster":
        cluster = str(inputs.get("name") or name)
        endpoint = f"https://{cluster}.eks.{region}.amazonaws.com"
        kubeconfig = {
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"server": endpoint, "certificate-authority-data": "Q0E="},
                }
            ]
        }
        issuer = f"oidc.eks.{region}.amazonaws.com/id/{cluster}"
        state.update(
            kubeconfigJson=json.dumps(kubeconfig),
            oidcProviderArn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}",
            oidcProviderUrl=issuer,
            nodeSecurityGroupId=f"sg-{cluster}-nodes",
            clusterSecurityGroupId=f"sg-{cluster}-cluster",
        )
    elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        state["latestVersion"] = 1
    elif type_ == "aws:s3/bucketObjectv2:BucketObjectv2":
        content = json.dumps(_plain(inputs), sort_keys=True, default=str).encode()
        state["versionId"] = hashlib.sha256(content).hexdigest()[:32]
    elif type_ == "aws:s3/bucket:Bucket":
        state.setdefault("bucket", f"{name}-bucket")
    elif type_ == "aws:amp/scraper:Scraper":
        # AMP creates a service-linked role per scraper; the program gives it cluster access.
        state["roleArn"] = (
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/scraper.aps.amazonaws.com/"
            f"AWSServiceRoleForAmazonPrometheusScraper_{name}"
        )
    elif type_ == "aws:mwaa/environment:Environment":
        state["webserverUrl"] = f"{name}.airflow.{region}.on.aws"
    elif type_ == "pulumi:pulumi:StackReference":
        source = str(inputs.get("name", name))
        state["outputs"] = cloud.stack_outputs.get(source, cloud.default_stack_outputs(source))
    elif type_ == "docker-build:index:Image":
        tags = inputs.get("tags") or [name]
        state.update(ref=f"{tags[0]}@{PLAN_DIGEST}", digest=PLAN_DIGEST)
    elif type_ == "docker-build:index:Index":
        state.update(ref=f"{inputs.get('tag', name)}@{PLAN_DIGEST}")
    return state


class MockCloud(pulumi.runtime.Mocks):
    """Mocks answering like AWS would, enough for the liminal program's wiring to resolve.

    `stack_outputs` maps a stack reference name (`org/project/stack`) to the outputs it reports;
    a reference not listed gets `default_stack_outputs` (digests for `image_tags`, `revision`).
    """

    def __init__(
        self,
        region: str = "us-east-1",
        image_tags: tuple[str, ...] = (),
        revision: str = "",
    ) -> None:
        self.region = region
        self.image_tags = image_tags
        self.revision = revision
        self.stack_outputs: dict[str, dict[str, Any]] = {}

    def default_stack_outputs(self, source: str) -> dict[str, Any]:
        from liminal_pulumi.plans import registry_plan

        prefix = f"liminal-{source.rsplit('/', 1)[-1]}"
        registry = f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com"
        return {
            defaults.PROMOTION_IMAGE_REFS_OUTPUT: {
                tag: f"{registry}/{registry_plan.repository_name(prefix, tag)}@{PLAN_DIGEST}"
                for tag in self.image_tags
            },
            defaults.PROMOTION_REVISION_OUTPUT: self.revision,
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", mock_state(args.typ, args.name, dict(args.inputs), self)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        region = self.region
        by_token: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/plan",
                "userId": "plan",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
            },
            "aws:index/getRegion:getRegion": {"region": region, "name": region, "id": region},
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{region}{zone}" for zone in "abcdef"],
                "zoneIds": [f"az{index}" for index in range(1, 7)],
            },
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
                "userName": "AWS",
                "password": "plan",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{region}.amazonaws.com",
            },
        }
        return {**args.args, **by_token.get(args.token, {})}, []


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also recording each registration with its options."""

    def __init__(self, cloud: MockCloud) -> None:
        super().__init__(cloud)
        self.records: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        if request.type != "pulumi:pulumi:Stack":
            self._record(
                request,
                request.object,
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
            )
        return super().RegisterResource(request)

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (stack references are reads)
        self._record(
            request, request.properties, custom=True, protect=False, retain_on_delete=False
        )
        return super().ReadResource(request)

    def _record(
        self, request: Any, properties: Any, *, custom: bool, protect: bool, retain_on_delete: bool
    ) -> None:
        inputs = rpc.deserialize_properties(properties, keep_unknowns=True)
        self.records.append(
            PlannedResource(
                urn=self.make_urn(request.parent, request.type, request.name),
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=custom,
                protect=protect,
                retain_on_delete=retain_on_delete,
                dependencies=tuple(sorted(set(request.dependencies))),
                inputs=_plain(inputs),
            )
        )

    # No Resource object crosses the mock monitor (the upstream "different loop" bug).
    def SupportsFeature(self, request: Any) -> Any:  # noqa: N802
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802
        from pulumi.runtime.proto import resource_pb2

        info = super().GetDeploymentInfo(request)
        features = [
            feature
            for feature in info.supportedFeatures
            if feature != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES
        ]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


def _resolve_output(value: Any) -> Any:
    from pulumi.runtime.sync_await import _sync_await

    output = pulumi.Output.from_input(value)
    if _sync_await(output.is_secret()):
        return SECRET
    if not _sync_await(output.is_known()):
        return UNKNOWN
    return _plain(_sync_await(output.future()))


def run_plan(project: Path, stack: str, repo_root: Path | None = None) -> Plan:
    """Run the stack's program under mocks for the liminal project at `project`.

    Raises `PlanError` for a bad stack file or settings and `LiminalConfigError` for a bad
    liminal.yml, both before any resource is registered. Mocks are process-global: one plan per
    process (the CLI runs one).
    """
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from liminal_pulumi.dsl.loader import load_project
    from liminal_pulumi.plans.promotion import project_revision

    root = (repo_root or find_repo_root(Path.cwd())).resolve()
    # TODO(issue 9): read the program from Pulumi.yaml instead of this repository's layout
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
    from stack_settings import SettingsError, settings_from_config  # type: ignore[import-not-found]

    config = stack_config(root, stack)
    project_dir = project.resolve()
    if project_dir.is_file():
        project_dir = project_dir.parent
    config["liminal:project"] = (
        project_dir.relative_to(root).as_posix()
        if project_dir.is_relative_to(root)
        else str(project_dir)
    )
    try:
        settings = settings_from_config(config)
    except SettingsError as error:
        raise PlanError(f"stack {stack}: {error}") from None
    model = load_project(project_dir)  # located LiminalConfigError before anything runs

    cloud = MockCloud(
        region=settings.region,
        image_tags=tuple(sorted(model.images())),
        revision=project_revision(project_dir),
    )
    monitor = RecordingMonitor(cloud)
    runtime_config.set_all_config(config, [k for k, v in config.items() if v == SECRET])
    mocks.set_mocks(
        cloud,
        project=PULUMI_PROJECT,
        stack=stack,
        preview=False,
        monitor=monitor,
        organization=PLAN_ORGANIZATION,
    )
    program = root / "infra"
    previous = Path.cwd()
    os.chdir(root)  # as the Pulumi CLI does: programs run from the project's folder
    try:

        def program_main() -> None:
            runpy.run_path(str(program), run_name="__main__")

        _sync_await(run_pulumi_func(program_main))
    finally:
        os.chdir(previous)
    stack_resource = pulumi.runtime.settings.get_root_resource()
    exported = getattr(stack_resource, "outputs", {}) or {}
    outputs = {name: _resolve_output(value) for name, value in sorted(exported.items())}
    return Plan(
        stack=stack,
        project=config["liminal:project"],
        settings=settings.config_keys(),
        resources=monitor.records,
        outputs=outputs,
    )


# --- rendering --------------------------------------------------------------------------------


KEY_SETTINGS = (
    "liminal:region",
    "liminal:airflowVersion",
    "liminal:mwaaEnvironmentClass",
    "liminal:nodeInstanceTypes",
    "liminal:natStrategy",
    "liminal:endpointPublicAccess",
    "liminal:serviceExposure",
    "liminal:protect",
    "liminal:promoteFrom",
)


def render_text(plan: Plan) -> Iterator[Any]:
    """Rich renderables: the key settings, the tree by component, the counts by type."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    settings = Table(title=f"stack {plan.stack} · project {plan.project}", show_header=False)
    for key in KEY_SETTINGS:
        settings.add_row(key, Text(json.dumps(plan.settings.get(key))))
    yield settings

    tree = Tree(f"[bold]{plan.stack}[/] ({len(plan.resources)} resources)")
    children = plan.children()

    def add(node: Any, resource: PlannedResource) -> None:
        marks = " [red](protected)[/]" if resource.protect else ""
        branch = node.add(f"{escape(resource.name)} [dim]{resource.type}[/]{marks}")
        for child in children.get(resource.urn, []):
            add(branch, child)

    for top in children.get(None, []):
        add(tree, top)
    yield tree

    counts = Table("type", "count", title="resources by type")
    for type_, count in plan.counts().items():
        counts.add_row(type_, str(count))
    yield counts

    outputs = Table("output", "value", title="stack outputs")
    for name, value in plan.outputs.items():
        outputs.add_row(name, Text(value if isinstance(value, str) else json.dumps(value)))
    yield outputs


def render_diff(diff: PlanDiff) -> list[str]:
    lines = [f"+ {urn}" for urn in diff.added]
    lines += [f"- {urn}" for urn in diff.removed]
    lines += [f"~ {urn}: {', '.join(keys)}" for urn, keys in diff.changed.items()]
    summary = (
        f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove"
    )
    return [*lines, summary]
