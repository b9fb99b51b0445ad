"""Which files of this package a module needs: the closure of its `liminal_pulumi` imports.

Used to ship no more than needed: the MWAA DAGs folder carries the DAG loader's closure, a
python_server image the server's. Imports are read from the source (lazy imports included),
never executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "liminal_pulumi"
# Resolved without following the package's own symlinks (components, plans), so relative paths
# stay under the package name.
PACKAGE_DIR = Path(__file__).absolute().parent


def module_file(module: str) -> Path | None:
    """`liminal_pulumi.a.b` -> its source file (`a/b.py` or `a/b/__init__.py`), or None."""
    parts = module.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _imports(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and (node.module == PACKAGE or node.module.startswith(PACKAGE + "."))
        ):
            found.add(node.module)
            # `from liminal_pulumi.x import y` may name a submodule y
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if module_file(m) is not None}


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def module_closure(roots: Iterable[str]) -> dict[str, Path]:
    """Package-relative path (`liminal_pulumi/dsl/model.py`) -> file, for `roots`, every
    `liminal_pulumi` module they import (transitively) and each one's parent packages.

    :raises ModuleNotFoundError: a root is not a module of this package.
    """
    pending: list[str] = []
    for root in roots:
        if module_file(root) is None:
            raise ModuleNotFoundError(f"{root} is not a module of {PACKAGE}")
        pending.append(root)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        for name in _with_parents(module):
            if name in seen:
                continue
            seen.add(name)
            path = module_file(name)
            assert path is not None
            pending.extend(_imports(path) - seen)
    files = {}
    for name in seen:
        path = module_file(name)
        assert path is not None
        files[f"{PACKAGE}/{path.relative_to(PACKAGE_DIR).as_posix()}"] = path
    return dict(sorted(files.items()))
