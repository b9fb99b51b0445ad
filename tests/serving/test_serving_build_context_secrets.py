"""What never reaches an image: credential files in the image's source, `.dockerignore` and
`.liminalignore` patterns, and `secrets[].local_path_file` — in `liminal build` (which lists what
it left out) and in the contexts `liminal plan` / `pulumi up` build for deployment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from serving_helpers import IRIS, REPO_ROOT
from typer.testing import CliRunner

from liminal_pulumi.build.images import write_build_context_report
from liminal_pulumi.cli import app
from liminal_pulumi.dsl.model import PythonImage

TOKEN = "ghp_do_not_ship_0123456789"

# path in the source -> whether it must be left out
SOURCE_FILES = {
    "task.py": False,
    "lib/util.py": False,
    "lib/id_mapping.py": False,  # a module, not a key: only id_rsa*, id_ed25519*, ... are keys
    "notes.md": False,
    ".git-credentials": True,
    ".npmrc": True,
    ".pypirc": True,
    ".netrc": True,
    ".kube/config": True,
    ".aws/credentials": True,
    ".docker/config.json": True,
    ".ssh/id_ed25519": True,
    "id_rsa": True,
    "deploy/id_ed25519.pub": True,
    ".env": True,
    ".env.production": True,
    "config/prod.env": True,
    "tls/server.pem": True,
    "tls/server.key": True,
    "store.p12": True,
    "infra/terraform.tfstate": True,
    "sub/.git-credentials": True,  # credentials anywhere in the tree, not only at its root
    "data/big.csv": True,  # .dockerignore: data/
    "data/keep.csv": False,  # .dockerignore: !data/keep.csv
    "lib/data/x.csv": True,  # .liminalignore: *.csv (gitignore: anywhere)
    "scratch.tmp": True,  # .liminalignore
}


def make_source(folder: Path) -> Path:
    for relative in SOURCE_FILES:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{TOKEN}\n")
    # Docker's meaning: anchored at the source folder; `!` takes a file back
    (folder / ".dockerignore").write_text("# local data\ndata\n!data/keep.csv\n")
    (folder / ".liminalignore").write_text("*.csv\n!data/keep.csv\n*.tmp\n")
    return folder


def test_credentials_and_ignore_patterns_stay_out_of_the_context(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    image = PythonImage(image="t/batch", source=source)
    written = write_build_context_report(image, tmp_path / "out")
    app_folder = written.path / "app"
    for relative, left_out in SOURCE_FILES.items():
        assert (app_folder / relative).exists() != left_out, relative
    # the report names each left-out path once, folders as folders
    assert {".kube/", ".aws/", ".docker/", ".ssh/", ".env", "tls/server.pem"} <= set(
        written.left_out
    )
    assert "data/keep.csv" not in written.left_out
    copied = [p for p in written.path.rglob("*") if p.is_file()]
    leaked = [p for p in copied if TOKEN in p.read_text(errors="replace")]
    assert sorted(p.relative_to(app_folder).as_posix() for p in leaked) == sorted(
        r for r, out in SOURCE_FILES.items() if not out
    )


def test_a_symlink_to_a_secret_is_left_out_and_links_are_never_followed(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "task.py").write_text("print(1)\n")
    outside = tmp_path / "home"
    (outside / ".aws").mkdir(parents=True)
    (outside / ".aws" / "credentials").write_text(TOKEN)
    (source / "linked_dir").symlink_to(outside / ".aws")
    (source / "secret_link.txt").symlink_to(outside / ".aws" / "credentials")
    secret = outside / ".aws" / "credentials"
    written = write_build_context_report(
        PythonImage(image="t/batch", source=source), tmp_path / "out", exclude=[secret]
    )
    assert "secret_link.txt" in written.left_out
    linked = written.path / "app" / "linked_dir"
    assert linked.is_symlink()  # a link, as docker copies it: its target is not in the context
    assert not any(
        TOKEN in p.read_text()
        for p in written.path.rglob("*")
        if p.is_file() and not p.is_symlink()
    )


def _iris_with_a_secret(folder: Path) -> Path:
    shutil.copytree(IRIS, folder, ignore=shutil.ignore_patterns(".liminal", "__pycache__"))
    (folder / "creds").mkdir()
    (folder / "creds" / "model-registry.txt").write_text(f"token={TOKEN}\n")
    (folder / ".git-credentials").write_text(f"https://user:{TOKEN}@github.com\n")
    with (folder / "liminal.yml").open("a") as spec:
        spec.write(
            "secrets:\n"
            "  - secret: model-registry\n"
            "    local_path_file: creds/model-registry.txt\n"
            "    remote_path: /mnt/model-registry\n"
        )
    return folder


def test_liminal_build_lists_what_it_left_out(tmp_path: Path) -> None:
    project = _iris_with_a_secret(tmp_path / "iris")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if "left out of" in ln]
    assert ".git-credentials" in line and "creds/model-registry.txt" in line
    context = out / "myorg_mydatascienceapp" / "app"
    assert (context / "serving.py").is_file() and (context / "model_store.py").is_file()
    assert not (context / "creds" / "model-registry.txt").exists()
    assert not any(TOKEN in p.read_text() for p in out.rglob("*") if p.is_file())


def test_deploy_contexts_never_hold_a_secret_file(tmp_path: Path) -> None:
    """`liminal plan` evaluates the Pulumi program, which writes the contexts `pulumi up` builds."""
    project = _iris_with_a_secret(tmp_path / "iris")
    done = subprocess.run(
        [sys.executable, "-m", "liminal_pulumi.cli", "plan", str(project), "--stack", "dev"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    contexts = project / ".liminal" / "build"
    app_folder = contexts / "myorg_mydatascienceapp" / "app"
    assert (app_folder / "serving.py").is_file()  # the contexts were written here
    assert not (app_folder / "creds" / "model-registry.txt").exists()
    assert not any(TOKEN in p.read_text() for p in contexts.rglob("*") if p.is_file())
