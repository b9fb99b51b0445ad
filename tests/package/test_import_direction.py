"""The package's import direction and the purity of plans, checked by parsing every module.

The data flows liminal.yml -> `dsl` -> consumers (`airflow`, `local`, `serving`, `build`,
`components`, `plans`, `offline_plan`, `cli`, `testing`); an import against that flow, or of the
Pulumi program (`infra`, `stack_settings`), would tie the library to one repository. Imports
inside functions and under `TYPE_CHECKING` count too: mypy and the reader follow them.
"""

from __future__ import annotations

import ast
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "liminal_pulumi"
NAME = "liminal_pulumi"
CONSUMERS = (
    "airflow",
    "local",
    "serving",
    "build",
    "components",
    "plans",
    "offline_plan",
    "cli",
    "testing",
)
PROGRAM = ("infra", "stack_settings")
# What a pure plan may not use (infra/plans/README.md): the SDK, IO, clocks and randomness.
PLAN_FORBIDDEN_MODULES = (
    "pulumi",
    "pulumi_aws",
    "pulumi_eks",
    "pulumi_kubernetes",
    "pulumi_docker_build",
    "os",
    "io",
    "sys",
    "pathlib",
    "glob",
    "shutil",
    "tempfile",
    "subprocess",
    "socket",
    "ssl",
    "http",
    "urllib",
    "requests",
    "boto3",
    "botocore",
    "time",
    "random",
    "secrets",
    "uuid",
)
PLAN_FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}
PLAN_FORBIDDEN_METHODS = {
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "iterdir",
    "glob",
    "rglob",
    "mkdir",
    "unlink",
    "now",
    "utcnow",
    "today",
}


def parse(path: Path) -> ast.Module:
    """`ast.parse` with the cyclic GC paused: a collection during parsing can run finalizers
    (Pulumi futures left by earlier tests), which CPython 3.11.7's AST validator then reports as
    "AST constructor recursion depth mismatch"."""
    gc.disable()
    try:
        return ast.parse(path.read_text(), str(path))
    finally:
        gc.enable()


@dataclass(frozen=True)
class Import:
    module: str  # the module importing, dotted (liminal_pulumi.dsl.loader)
    target: str  # what it imports, absolute and dotted
    where: str  # path:line


def module_name(path: Path, package: Path = PACKAGE) -> str:
    relative = path.relative_to(package.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_files() -> list[Path]:
    """Every module of the package; `components` and `plans` are links into infra/: followed."""
    files = []
    for folder, _dirs, names in os.walk(PACKAGE, followlinks=True):
        files += [Path(folder) / n for n in names if n.endswith(".py")]
    return sorted(files)


def imports_of(path: Path, package: Path = PACKAGE) -> Iterator[Import]:
    module = module_name(path, package)
    is_package = path.name == "__init__.py"
    tree = parse(path)
    for node in ast.walk(tree):
        where = f"{path.relative_to(package.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield Import(module, prefix, where)
            for alias in node.names:  # `from liminal_pulumi import cli` imports a module
                yield Import(module, f"{prefix}.{alias.name}", where)


def all_imports() -> list[Import]:
    return [found for path in package_files() for found in imports_of(path)]


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_walk_sees_the_whole_package_and_resolves_relative_imports() -> None:
    modules = {module_name(p) for p in package_files()}
    for expected in (
        f"{NAME}.dsl.loader",
        f"{NAME}.serving.app",
        f"{NAME}.components.platform",  # through the link to infra/components
        f"{NAME}.plans.service_plan",
        f"{NAME}.testing",
    ):
        assert expected in modules
    source = PACKAGE / "serving" / "__init__.py"
    assert module_name(source) == f"{NAME}.serving"
    targets = {i.target for i in all_imports()}
    assert f"{NAME}.dsl.model" in targets and "pulumi" in targets


def test_the_dsl_imports_no_consumer() -> None:
    consumers = tuple(f"{NAME}.{c}" for c in CONSUMERS)
    wrong = [
        i for i in all_imports() if within(i.module, f"{NAME}.dsl") and within(i.target, *consumers)
    ]
    assert wrong == []


def test_serving_imports_only_serving_defaults_and_the_model() -> None:
    allowed = (f"{NAME}.serving", f"{NAME}.defaults", f"{NAME}.dsl.model")
    wrong = [
        i
        for i in all_imports()
        if within(i.module, f"{NAME}.serving")
        and within(i.target, NAME)
        and i.target != NAME  # `from liminal_pulumi import defaults` names the module below
        and not within(i.target, *allowed)
    ]
    assert wrong == []


def test_nothing_in_the_package_imports_the_program() -> None:
    wrong = [i for i in all_imports() if within(i.target, *PROGRAM)]
    assert wrong == []


def plan_files() -> list[Path]:
    return [p for p in package_files() if module_name(p).startswith(f"{NAME}.plans")]


def test_plans_import_no_sdk_io_clock_or_randomness() -> None:
    assert len(plan_files()) >= 5
    wrong = [
        i
        for i in all_imports()
        if within(i.module, f"{NAME}.plans") and within(i.target, *PLAN_FORBIDDEN_MODULES)
    ]
    assert wrong == []


@pytest.mark.parametrize("path", plan_files(), ids=lambda p: p.name)
def test_plans_call_no_io_or_clock(path: Path) -> None:
    wrong = []
    for node in ast.walk(parse(path)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in PLAN_FORBIDDEN_CALLS:
            wrong.append(f"{path.name}:{node.lineno}: {function.id}()")
        if isinstance(function, ast.Attribute) and function.attr in PLAN_FORBIDDEN_METHODS:
            wrong.append(f"{path.name}:{node.lineno}: .{function.attr}()")
    assert wrong == []


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The parser finds an import of the program, a relative import of a consumer from the
    DSL, and file IO in a plan (so an empty result above means something)."""
    fake = tmp_path / NAME / "dsl" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "from ..airflow import loader\n"
        "def f():\n"
        "    from stack_settings import StackSettings\n"
        "    return open('x').read() + Path('y').read_text()\n"
    )
    found = list(imports_of(fake, tmp_path / NAME))
    assert {i.module for i in found} == {f"{NAME}.dsl.bad"}
    targets = {i.target for i in found}
    assert f"{NAME}.airflow" in targets and f"{NAME}.airflow.loader" in targets
    assert any(within(t, *PROGRAM) for t in targets)
    calls = [
        n.func
        for n in ast.walk(parse(fake))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute | ast.Name)
    ]
    names = {getattr(c, "id", None) or getattr(c, "attr", None) for c in calls}
    assert names & PLAN_FORBIDDEN_CALLS and names & PLAN_FORBIDDEN_METHODS


def test_the_plans_readme_states_the_rules() -> None:
    readme = (PACKAGE / "plans" / "README.md").read_text()
    for rule in ("no `pulumi`", "no file or network IO", "no clock"):
        assert rule in readme
