"""`liminal plan`: the resources a stack would hold, from the project's own program run offline.

It works in any Pulumi (Python) project that uses the library, the way the Pulumi CLI runs one:
`Pulumi.yaml` in the project folder gives the project's `name`, its program (`main`, default
the project folder) and where stack files are (`stackConfigDir`, default the project folder);
the program then runs in this process, from the project folder (`runpy` on `main`, which puts
the program's folder on `sys.path`), under the mock cloud of `liminal_pulumi.testing` and with
the config of `Pulumi.<stack>.yaml` (plus `liminal:project`, the liminal project planned). No
cloud credentials, no Pulumi CLI. The library never imports the program: whatever the program
checks (its settings, the liminal.yml) it reports by raising, and the plan turns that into one
message (`PlanError`).

Every registration is recorded (type, name, parent, inputs, protection, dependencies); the
result prints as a tree by component, serialises to JSON, and two JSON plans diff, value by
value.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc

from liminal_pulumi import defaults
from liminal_pulumi.testing import (
    ORGANIZATION,
    REGION,
    STACK_TYPE,
    DuplicateUrnError,
    MockCloud,
    Registration,
    install,
    is_wire_secret,
    run,
    whole_numbers,
)

SECRET = "[secret]"
UNKNOWN = "[unknown]"
# Digests a plan's mocked source stack reports for a promotion (no registry is read offline).
PLAN_DIGEST = "sha256:" + "0" * 64
# The config key a plan sets to the liminal project it plans (relative to the project folder).
PROJECT_CONFIG_KEY = "liminal:project"


class PlanError(Exception):
    """A user-facing problem with a plan's inputs (Pulumi.yaml, stack file, program, settings)."""


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

    @classmethod
    def of(cls, registration: Registration) -> PlannedResource:
        """A registration as a plan shows it: secrets masked, assets by content hash."""
        return cls(
            urn=registration.urn,
            type=registration.type,
            name=registration.name,
            parent=registration.parent or None,
            custom=registration.custom,
            protect=registration.protect,
            retain_on_delete=registration.retain_on_delete,
            dependencies=registration.dependencies,
            inputs=_plain(registration.wire_inputs),
        )


@dataclass
class Plan:
    """A stack's plan. `settings` is the stack's config as the program received it (values as
    the stack file types them, secrets masked); `outputs` the stack outputs."""

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
        """A plan from `to_json`'s text; whole numbers as ints (older plans wrote `30.0`)."""
        data = whole_numbers(json.loads(text))
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

# Marks a value that one side of a diff does not have (JSON leaves the key out).
_ABSENT = object()


@dataclass(frozen=True)
class Change:
    """One changed value: `path` into the inputs (`spec.template.spec.containers[0].image`),
    or `[protect]` / `[retain_on_delete]` for an option; `old`/`new` absent when the value is
    added or removed."""

    path: str
    old: Any = _ABSENT
    new: Any = _ABSENT

    def to_dict(self) -> dict[str, Any]:
        values = {"old": self.old, "new": self.new}
        return {k: v for k, v in values.items() if v is not _ABSENT}


@dataclass(frozen=True)
class PlanDiff:
    added: list[str]
    removed: list[str]
    # urn -> the values that differ, leaf by leaf
    changed: dict[str, list[Change]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> str:
        """`{"added": [urn], "removed": [urn], "changed": {urn: {path: {"old", "new"}}}}`."""
        data = {
            "added": self.added,
            "removed": self.removed,
            "changed": {
                urn: {change.path: change.to_dict() for change in changes}
                for urn, changes in self.changed.items()
            },
        }
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def _changes(path: str, old: Any, new: Any) -> Iterator[Change]:
    """The leaf values that differ between `old` and `new` (mappings by key, lists by index)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            inner = f"{path}.{key}" if path else str(key)
            yield from _changes(inner, old.get(key, _ABSENT), new.get(key, _ABSENT))
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            yield from _changes(
                f"{path}[{index}]",
                old[index] if index < len(old) else _ABSENT,
                new[index] if index < len(new) else _ABSENT,
            )
    elif old is _ABSENT or new is _ABSENT or old != new or type(old) is not type(new):
        yield Change(path, old, new)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """What `new` adds, removes and changes relative to `old`, by URN; a change lists every
    differing input value (old and new) and protection option."""
    before, after = old.by_urn(), new.by_urn()
    changed: dict[str, list[Change]] = {}
    for urn in sorted(before.keys() & after.keys()):
        a, b = before[urn], after[urn]
        changes = list(_changes("", a.inputs, b.inputs))
        changes += [
            Change(f"[{option}]", getattr(a, option), getattr(b, option))
            for option in ("protect", "retain_on_delete")
            if getattr(a, option) != getattr(b, option)
        ]
        if changes:
            changed[urn] = changes
    return PlanDiff(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=changed,
    )


# --- the Pulumi project and its stack files ---------------------------------------------------


@dataclass(frozen=True)
class PulumiProject:
    """What `Pulumi.yaml` tells the Pulumi CLI: https://www.pulumi.com/docs/iac/concepts/projects/project-file/

    `main` is the program (a folder holding `__main__.py`, or a `.py` file); `config` the
    project-level config values and defaults (`namespace:key` -> value).
    """

    directory: Path
    name: str
    main: Path
    stack_config_dir: Path
    config: dict[str, Any]

    def qualify(self, key: str) -> str:
        """A config key as the engine names it: `key` without a namespace is the project's."""
        return key if ":" in key else f"{self.name}:{key}"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PlanError(f"{where}: not valid YAML: {problem}") from None


def read_project(directory: Path) -> PulumiProject:
    """The Pulumi project in `directory`; `PlanError` (one line) when there is none or its
    `Pulumi.yaml` is not usable."""
    directory = directory.resolve()
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        if (directory / "Pulumi.yml").is_file():
            path = directory / "Pulumi.yml"
        else:
            raise PlanError(
                f"{path}: no such file (run `liminal plan` in a Pulumi project's folder, or pass "
                "--project-dir)"
            )
    document = _read_yaml(path)
    if not isinstance(document, Mapping) or not isinstance(document.get("name"), str):
        raise PlanError(f"{path}: a Pulumi project file needs a `name`")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
    if runtime_name != "python":
        raise PlanError(f"{path}: runtime {runtime_name!r}: `liminal plan` runs Python programs")
    main = directory / str(document.get("main") or ".")
    if not main.exists():
        raise PlanError(f"{path}: main: {main} does not exist")
    if main.is_dir() and not (main / "__main__.py").is_file():
        raise PlanError(f"{path}: main: {main} has no __main__.py")
    project = PulumiProject(
        directory=directory,
        name=document["name"],
        main=main,
        stack_config_dir=directory / str(document.get("stackConfigDir") or "."),
        config={},
    )
    declared = document.get("config") or {}
    if not isinstance(declared, Mapping):
        raise PlanError(f"{path}: `config` must be a mapping of key to value")
    for key, value in declared.items():
        # `key: value`, or `key: {type, default | value, ...}` (a declared key's default).
        if isinstance(value, Mapping) and ("default" in value or "value" in value):
            value = value.get("value", value.get("default"))
        elif isinstance(value, Mapping) and "type" in value:
            continue  # declared without a default: the stack must give it
        project.config[project.qualify(str(key))] = value
    return project


def stack_file(project: PulumiProject, stack: str) -> Path:
    return project.stack_config_dir / f"Pulumi.{stack}.yaml"


def stack_values(project: PulumiProject, stack: str) -> dict[str, Any]:
    """The stack's config as its file types it (project defaults first), secrets as `[secret]`
    (encrypted values cannot be read offline); `PlanError` for a missing or bad file."""
    path = stack_file(project, stack)
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in project.stack_config_dir.glob("Pulumi.*.y*ml"))
        raise PlanError(f"{path}: no such stack file (stacks: {', '.join(known) or 'none'})")
    document = _read_yaml(path) or {}
    config = (document.get("config") or {}) if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise PlanError(f"{path}: `config` must be a mapping of key to value")
    values = dict(project.config)
    for key, value in config.items():
        secure = isinstance(value, Mapping) and "secure" in value
        values[project.qualify(str(key))] = SECRET if secure else value
    return values


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings as they are, JSON for the rest."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def stack_config(project: PulumiProject, stack: str) -> dict[str, str]:
    """The stack's config in the engine's form (`namespace:key` -> string)."""
    return engine_config(stack_values(project, stack))


# --- running the program under the mock cloud -------------------------------------------------


def _plain(value: Any) -> Any:
    """Inputs as JSON: secrets masked, assets by content hash, unknowns marked, whole numbers as
    ints, nested values converted."""
    if is_wire_secret(value):
        return SECRET
    if value is rpc.UNKNOWN:
        return UNKNOWN
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
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _resolve_output(value: Any) -> Any:
    from pulumi.runtime.sync_await import _sync_await

    output = pulumi.Output.from_input(value)
    if _sync_await(output.is_secret()):
        return SECRET
    if not _sync_await(output.is_known()):
        return UNKNOWN
    return _plain(_sync_await(output.future()))


def _promotion_source_outputs(
    image_tags: tuple[str, ...], revision: str, region: str, account: str
) -> Any:
    """What a stack running `LiminalPlatform` exports for the next one (`imageRefs`,
    `projectRevision`), as the plan's stand-in for a referenced stack: this checkout's
    revision and images, pinned by a placeholder digest."""
    from liminal_pulumi.plans import registry_plan

    def outputs(source: str) -> dict[str, Any]:
        prefix = f"liminal-{source.rsplit('/', 1)[-1]}"
        registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
        return {
            defaults.PROMOTION_IMAGE_REFS_OUTPUT: {
                tag: f"{registry}/{registry_plan.repository_name(prefix, tag)}@{PLAN_DIGEST}"
                for tag in image_tags
            },
            defaults.PROMOTION_REVISION_OUTPUT: revision,
        }

    return outputs


def _program_error(error: BaseException, project: PulumiProject) -> PlanError:
    """One message for what the program raised: a `pulumi.RunError` (how a program reports bad
    config) as it is; anything else with its type and where it was raised, no traceback."""
    if isinstance(error, pulumi.RunError | DuplicateUrnError):
        return PlanError(str(error))
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    program = os.path.relpath(project.main, project.directory)
    return PlanError(f"the program ({program}) failed: {type(error).__name__}: {error}{where}")


def _run_program(project: PulumiProject) -> None:
    """Run `main` as the Pulumi CLI's Python host does: as `__main__`, from the project folder,
    the program's folder first on `sys.path`."""
    folder = project.main if project.main.is_dir() else project.main.parent
    previous_cwd, previous_path = Path.cwd(), list(sys.path)
    os.chdir(project.directory)
    sys.path.insert(0, str(folder))
    try:
        run(lambda: runpy.run_path(str(project.main), run_name="__main__"))
    finally:
        os.chdir(previous_cwd)
        sys.path[:] = previous_path


def run_plan(project: Path, stack: str, project_dir: Path | None = None) -> Plan:
    """Run the Pulumi project's program (in `project_dir`, default the current folder) under
    the mock cloud for stack `stack`, planning the liminal project at `project`.

    Raises `PlanError` for a missing or bad Pulumi.yaml, stack file or program and for anything
    the program raises (a `pulumi.RunError` for bad settings), and `LiminalConfigError` for a
    bad liminal.yml, before any resource is registered. Mocks are process-global: one plan per
    process (the CLI runs one).
    """
    from liminal_pulumi.dsl.loader import load_project
    from liminal_pulumi.dsl.revision import project_revision

    pulumi_project = read_project(project_dir or Path.cwd())
    values = stack_values(pulumi_project, stack)
    liminal_dir = project.resolve()
    if liminal_dir.is_file():
        liminal_dir = liminal_dir.parent
    values[PROJECT_CONFIG_KEY] = (
        liminal_dir.relative_to(pulumi_project.directory).as_posix()
        if liminal_dir.is_relative_to(pulumi_project.directory)
        else str(liminal_dir)
    )
    model = load_project(liminal_dir)  # located LiminalConfigError before anything runs

    region = str(values.get("aws:region") or REGION)
    cloud = MockCloud(region=region)
    cloud.default_stack_outputs = _promotion_source_outputs(
        tuple(sorted(model.images())), project_revision(liminal_dir), region, cloud.account_id
    )
    install(
        cloud,
        project=pulumi_project.name,
        stack=stack,
        organization=ORGANIZATION,
        config=engine_config(values),
        secret_keys=[k for k, v in values.items() if v == SECRET],
    )
    try:
        _run_program(pulumi_project)
    except Exception as error:  # whatever the program raised, as one message
        raise _program_error(error, pulumi_project) from None
    stack_resource = pulumi.runtime.settings.get_root_resource()
    exported = getattr(stack_resource, "outputs", {}) or {}
    outputs = {name: _resolve_output(value) for name, value in sorted(exported.items())}
    return Plan(
        stack=stack,
        project=values[PROJECT_CONFIG_KEY],
        settings=dict(sorted(values.items())),
        # By URN: registrations finish in whatever order their inputs resolve, a plan must
        # read the same on every run.
        resources=sorted(
            (PlannedResource.of(r) for r in cloud.registrations() if r.type != STACK_TYPE),
            key=lambda r: r.urn,
        ),
        outputs=outputs,
    )


# --- rendering --------------------------------------------------------------------------------


def render_text(plan: Plan) -> Iterator[Any]:
    """Rich renderables: the stack's config, the tree by component, the counts by type, the
    stack outputs."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    settings = Table(title=f"stack {plan.stack} · project {plan.project}", show_header=False)
    for key, value in plan.settings.items():
        settings.add_row(key, Text(value if isinstance(value, str) else json.dumps(value)))
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


# A changed value longer than this prints shortened in the text diff (JSON keeps it whole).
DIFF_VALUE_CHARS = 160


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > DIFF_VALUE_CHARS:
        return f"{text[: DIFF_VALUE_CHARS - 1]}… ({len(text)} chars)"
    return text


def render_diff(diff: PlanDiff) -> list[str]:
    """`+ urn` / `- urn`, then each changed resource with its values `old -> new`, a summary."""
    lines = [f"+ {urn}" for urn in diff.added]
    lines += [f"- {urn}" for urn in diff.removed]
    for urn, changes in diff.changed.items():
        lines.append(f"~ {urn}")
        lines += [f"    {c.path}: {_shown(c.old)} -> {_shown(c.new)}" for c in changes]
    summary = (
        f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove"
    )
    return [*lines, summary]
