"""The library as a platform team gets it: the wheel, installed with `[infra]` in a fresh virtual
environment, used by Pulumi programs in a folder named `infra/` outside this repository.

One wheel and one environment per session (module-scoped fixture; uv installs from its cache
with the lock as constraints, a few seconds once warm). Needs the package index only for
packages not yet in uv's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
UV = REPO_ROOT / ".uv" / "bin" / "uv"  # pinned by the Makefile (`make setup`)
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _uv() -> str:
    found = str(UV) if UV.is_file() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is missing: run `make setup` (it installs the pinned uv in .uv/)")
    return found


def _run(*command: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    # The fresh environment is disposable: let the first process write the provider SDKs'
    # bytecode (pulumi_aws alone takes ~10 s to compile) for the next ones to reuse.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _checked(*command: str | Path, cwd: Path, timeout: int = 300) -> str:
    done = _run(*command, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel from a copy of the sources, install it with [infra] in a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    # The package, with its links to infra/components and infra/plans (kept as links).
    shutil.copytree(
        REPO_ROOT / "liminal_pulumi",
        source / "liminal_pulumi",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for folder in ("components", "plans"):
        shutil.copytree(
            REPO_ROOT / "infra" / folder,
            source / "infra" / folder,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    uv = _uv()
    _checked(uv, "build", "--wheel", "--out-dir", root / "dist", source, cwd=root)
    (wheel,) = (root / "dist").glob("liminal_pulumi-*.whl")
    venv = root / "venv"
    _checked(uv, "venv", "--quiet", "--python", PYTHON, venv, cwd=root)
    _checked(
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        f"{wheel}[infra]",
        "--constraint",
        REPO_ROOT / "requirements" / "lock.txt",
        cwd=root,
        timeout=600,
    )
    return {"root": root, "wheel": wheel, "python": venv / "bin" / "python", "venv": venv}


def _user_project(root: Path, name: str, program: str) -> Path:
    """A Pulumi project of a platform team: Pulumi.yaml, stacks/, its program in infra/, and a
    liminal project (a copy of the iris example) beside it."""
    folder = root / name
    shutil.copytree(
        PROGRAMS / program, folder / "infra", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        REPO_ROOT / "examples" / "iris",
        folder / "ml",
        ignore=shutil.ignore_patterns(".liminal", "__pycache__"),
    )
    (folder / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "team",
                "runtime": {"name": "python", "options": {"virtualenv": "venv"}},
                "main": "infra/",
                "stackConfigDir": "stacks",
            }
        )
    )
    (folder / "stacks").mkdir()
    (folder / "stacks" / "Pulumi.dev.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": "eu-west-1"}})
    )
    return folder


def _evaluate(installed: dict[str, Path], folder: Path) -> dict[str, Any]:
    runner = installed["root"] / "runner"
    runner.mkdir(exist_ok=True)
    shutil.copy(HERE / "run_under_mocks.py", runner / "run_under_mocks.py")
    out = _checked(
        installed["python"],
        runner / "run_under_mocks.py",
        folder / "infra",
        folder / "ml",
        cwd=runner,
    )
    return json.loads(out.strip().splitlines()[-1])


def test_the_wheel_holds_one_top_level_package(installed: dict[str, Path]) -> None:
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"liminal_pulumi"}
    assert "liminal_pulumi/components/platform.py" in names
    assert "liminal_pulumi/plans/checks.py" in names


def test_import_infra_fails_in_that_environment(installed: dict[str, Path]) -> None:
    done = _run(installed["python"], "-c", "import infra", cwd=installed["venv"])
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'infra'" in done.stderr


def test_a_program_composing_the_platform_on_an_existing_vpc(installed: dict[str, Path]) -> None:
    folder = _user_project(installed["root"], "with_platform", "platform_existing_vpc")
    result = _evaluate(installed, folder)
    types = Counter(t for t, _, _ in result["resources"])
    assert types["liminal:index:LiminalPlatform"] == 1
    assert types["liminal:aws:Network"] == 0 and types["aws:ec2/vpc:Vpc"] == 0
    assert types["liminal:aws:Cluster"] == 1 and types["aws:mwaa/environment:Environment"] == 1
    urns = [urn for _, _, urn in result["resources"]]
    assert len(urns) == len(set(urns))
    assert result["outputs"]["clusterName"] == "team-ml"
    # the DAG loader and the modules it imports come from the installed wheel
    names = {name for _, name, _ in result["resources"]}
    assert {
        "ml-airflow-dag-liminal_dags.py",
        "ml-airflow-dag-liminal_pulumi/airflow/loader.py",
    } <= (names)
    assert set(result["outputs"]["serviceEndpoints"]) == {"my_datascience_server"}


def test_a_program_composing_network_cluster_and_model_store_by_hand(
    installed: dict[str, Path],
) -> None:
    folder = _user_project(installed["root"], "by_hand", "by_hand")
    result = _evaluate(installed, folder)
    types = Counter(t for t, _, _ in result["resources"])
    assert types["liminal:aws:Network"] == 1
    assert types["liminal:aws:Cluster"] == 1
    assert types["liminal:aws:ModelStore"] == 1
    assert types["aws:ec2/subnet:Subnet"] == 6  # three AZs
    assert types["liminal:index:LiminalPlatform"] == 0
    assert result["outputs"]["clusterName"] == "ml-eks"
    assert result["outputs"]["claims"] == {"gettingstartedvol-pvc": "gettingstartedvol-pvc"}


@pytest.mark.parametrize("program", ["platform_existing_vpc", "by_hand"])
def test_liminal_plan_runs_the_program_of_that_folder(
    installed: dict[str, Path], program: str
) -> None:
    """`liminal plan` in a user's project: it reads `Pulumi.yaml` of `--project-dir`
    (default: the current folder), runs its `main` under the shipped mocks with the stack file
    of `stackConfigDir`, and sets `liminal:project` to PATH."""
    liminal = installed["venv"] / "bin" / "liminal"
    folder = _user_project(installed["root"], f"plan_{program}", program)
    out = _checked(
        liminal, "plan", "ml", "--stack", "dev", "--project-dir", folder, "--json", cwd=folder
    )
    plan = json.loads(out)
    types = Counter(r["type"] for r in plan["resources"])
    assert types["liminal:aws:Cluster"] == 1
    if program == "platform_existing_vpc":
        assert types["liminal:index:LiminalPlatform"] == 1 and types["aws:ec2/vpc:Vpc"] == 0
    else:
        assert types["liminal:aws:ModelStore"] == 1 and types["aws:ec2/vpc:Vpc"] == 1
