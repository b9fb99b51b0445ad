"""Loading a project: liminal.yml files in a folder tree -> one validated `model.Project`.

    files = discover(path)                 # liminal.yml / liminal.yaml
    raw   = parse_yaml_file(file)          # values that remember file:line:col
    chain = child -> parent -> ... -> base # `super`, checked for unknown names and cycles
    merged = apply_parents(child, folded)  # the merge rules (inheritance.py)
    data  = normalize_file(merged)         # DSL shapes -> model shapes, load-time placeholders
    check_file / check_project             # references, duplicates
    LiminalFile.model_validate(data)       # types, required keys

Every stage reports into one `Reporter`; a broken file never stops the others from being
checked, and the user gets every error of the project in one `LiminalConfigError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from liminal_pulumi.dsl.diagnostics import (
    Diagnostic,
    LiminalConfigError,
    Location,
    Reporter,
    suggest,
)
from liminal_pulumi.dsl.discovery import TooManyFolders, discover, project_root, safe_resolve
from liminal_pulumi.dsl.inheritance import apply_parents, builtin_base, merge_parents
from liminal_pulumi.dsl.model import LiminalFile, Project
from liminal_pulumi.dsl.normalize import check_top_level_keys, describe, normalize_file
from liminal_pulumi.dsl.references import check_file, check_project, check_raw_sections
from liminal_pulumi.dsl.validation import validate_file
from liminal_pulumi.dsl.yaml_source import YamlMap, parse_yaml_file

FILE_TYPES = ("sub", "super")
PARENT_SEARCH_LEVELS = 3


def load_project(path: Path | str) -> Project:
    """The validated project at `path` (a folder tree or one liminal.yml).

    Raises LiminalConfigError carrying every located error (and the warnings).
    """
    project, _ = load_project_with_warnings(path)
    return project


def load_project_with_warnings(path: Path | str) -> tuple[Project, list[Diagnostic]]:
    """The project and the warnings loading it produced (historic keys, ignored keys...)."""
    loaded = load_project_report(path)
    return loaded.project, loaded.warnings


@dataclass(frozen=True)
class LoadedProject:
    project: Project
    warnings: list[Diagnostic]
    files_read: tuple[Path, ...]  # every liminal.yml read: sub files and their parents


def load_project_report(path: Path | str) -> LoadedProject:
    """The project, its warnings and every file read to build it (`liminal validate`).

    Raises LiminalConfigError carrying every located error (and the warnings).
    """
    path = Path(path)
    reporter = Reporter()
    if not path.exists() and not path.is_symlink():
        raise LiminalConfigError([Diagnostic(f"no such file or folder: {path}", file=path)])
    root = project_root(path)
    targets = discover(path)
    if not targets:
        raise LiminalConfigError(
            [Diagnostic(f"no liminal.yml or liminal.yaml found under {root}", file=root)]
        )
    if not safe_resolve(path).is_dir():
        documents, by_name, unreadable = _single_file_with_parents(safe_resolve(path), reporter)
    else:
        documents = _read(targets, reporter)
        unreadable = len(targets) - len(documents)
        by_name = _index_by_name(documents, reporter)

    normalized: list[tuple[Path, YamlMap]] = []
    parent_files: list[YamlMap] = []
    for file in targets:
        file = safe_resolve(file)
        document = documents.get(file)
        if document is None:
            continue
        if _file_type(document) == "super":
            parent_files.append(document)
            continue
        if _file_type(document) != "sub":
            continue
        parents = _parents(document, by_name, reporter, unreadable)
        folded = builtin_base()
        for parent in reversed(parents or []):
            folded = merge_parents(parent, folded)
        merged = apply_parents(document, folded)
        if parents is None:
            # The chain is broken: still report the file's own mistakes (types, unknown keys,
            # values), but not what its missing parent may well have declared.
            normalize_file(merged, file, reporter)
            continue
        data = normalize_file(merged, file, reporter)
        check_file(data, reporter)
        normalized.append((file, data))
    check_project(normalized, reporter)
    for document in parent_files:  # after the children, whose messages show the whole chain
        _check_parent_file(document, by_name, reporter, unreadable)

    models: list[LiminalFile] = []
    for _, data in normalized:
        validated = validate_file(data, reporter)
        if validated is not None:
            models.append(validated)
    read = tuple(sorted(documents))
    if not reporter.has_errors and read and not normalized:
        reporter.warning(
            Location(read[0], 1, 1),
            "no `type: sub` file: parent files alone define no pipeline, image or service",
        )
    if reporter.has_errors:
        raise LiminalConfigError(reporter.diagnostics)
    project = Project(root=root, files=tuple(sorted(models, key=lambda f: str(f.path))))
    warnings = [d for d in reporter.diagnostics if d.severity == "warning"]
    return LoadedProject(project, warnings, read)


def load_what_loads(path: Path | str) -> tuple[Project, tuple[Diagnostic, ...]]:
    """The project of every file under `path` that loads, and the errors of those that do not.

    One broken liminal.yml must not hide its neighbours (the DAG loader, `liminal run`): when
    the project as a whole has errors, each file without one of them is loaded on its own.
    A file whose parent is broken is reported, not loaded.

    Errors that only matter when the files are deployed together (`scope="deployment"`: one
    image tag declared differently by two apps of a liminal home, two services with one
    Kubernetes name) break no file: each file still loads, and they are not returned here
    (`validate` and `plan` report them).
    """
    path = Path(path)
    try:
        return load_project(path), ()
    except LiminalConfigError as error:
        problems = [d for d in error.errors if d.scope == "file"]
        if isinstance(error, TooManyFolders):
            return Project(root=project_root(path), files=()), tuple(problems)
    broken = {safe_resolve(d.file) for d in problems if d.file is not None}
    files: list[LiminalFile] = []
    for file in discover(path) if safe_resolve(path).is_dir() else []:
        if safe_resolve(file) in broken:
            continue
        try:
            files.extend(load_project(file).files)
        except LiminalConfigError as error:
            if any(d.scope == "file" for d in error.errors):
                problems.append(Diagnostic("not loaded: it depends on a broken file", file=file))
    return Project(root=project_root(path), files=tuple(files)), tuple(problems)


def _single_file_with_parents(
    file: Path, reporter: Reporter
) -> tuple[dict[Path, YamlMap], dict[str, list[YamlMap]], int]:
    """One file and the parents it names, looked for in ever wider folders around it.

    The search widens from the file's folder up to `PARENT_SEARCH_LEVELS` folders above it, so
    `liminal validate app/liminal.yml` finds `../liminal.yml`. It stays inside the project: it
    stops at a repository's root (`.git`), never searches the filesystem root, the user's home
    folder or anything above it, and each folder's walk is bounded (`discover`), so a misspelt
    `super` never walks the machine's disk.
    """
    folder = file.parent
    documents: dict[Path, YamlMap] = {}
    by_name: dict[str, list[YamlMap]] = {}
    for _ in range(PARENT_SEARCH_LEVELS + 1):
        trial = Reporter()
        try:
            found = set(discover(folder))
        except TooManyFolders:
            break  # a folder this big is not the project's: search no wider
        documents = _read(sorted(found | {file}), trial)
        by_name = _index_by_name(documents, trial)
        if file in documents and _chain_resolves(documents[file], by_name):
            break
        if (folder / ".git").exists() or not _may_search(folder.parent):
            break
        folder = folder.parent
    # Report only the problems of the file itself and of the parents it uses.
    chain_files = {file} | {
        d.loc.file for d in _parents(documents.get(file, YamlMap()), by_name, Reporter(), 0) or []
    }
    documents = {f: d for f, d in documents.items() if f in chain_files}
    _read(sorted(f for f in chain_files if f is not None), reporter)
    by_name = _index_by_name(documents, reporter)
    return documents, by_name, 0 if file in documents else 1


def _may_search(folder: Path) -> bool:
    """Whether a parent search may widen to `folder`: never the filesystem root, nor the user's
    home folder or one of its ancestors (they hold far more than one project)."""
    if folder.parent == folder:
        return False
    home = Path(os.path.expanduser("~"))
    return not (home == folder or home.is_relative_to(folder))


def _check_parent_file(
    document: YamlMap, by_name: dict[str, list[YamlMap]], reporter: Reporter, unreadable: int
) -> None:
    """A `type: super` file on its own: its chain resolves (no unknown parent, no cycle), its
    top-level keys are known. (Its sections' lists are checked when it is read.)"""
    _parents(document, by_name, reporter, unreadable)
    check_top_level_keys(document, reporter)


def _chain_resolves(document: YamlMap, by_name: dict[str, list[YamlMap]]) -> bool:
    return _parents(document, by_name, Reporter(), 0) is not None


def _read(files: list[Path], reporter: Reporter) -> dict[Path, YamlMap]:
    documents: dict[Path, YamlMap] = {}
    for file in files:
        file = safe_resolve(file)
        value = parse_yaml_file(file, reporter)
        if value is None:
            continue
        if not isinstance(value, YamlMap):
            reporter.error(
                Location(file, 1, 1),
                f"the top level must be a mapping (`name: ...`, `pipelines: ...`), "
                f"got {describe(value)}",
            )
            continue
        check_raw_sections(value, reporter)
        documents[file] = value
    return documents


def _file_type(document: YamlMap) -> str | None:
    kind = document.get("type", "sub")
    if kind in FILE_TYPES:
        return str(kind)
    return None


def _index_by_name(documents: dict[Path, YamlMap], reporter: Reporter) -> dict[str, list[YamlMap]]:
    """File name -> the files with that name (more than one is an error, reported here)."""
    by_name: dict[str, list[YamlMap]] = {}
    for file, document in documents.items():
        kind = document.get("type", "sub")
        if kind not in FILE_TYPES:
            reporter.error(
                document.value_loc("type"),
                f"file `type` must be sub or super, got {describe(kind)}",
                suggestion=suggest(kind, FILE_TYPES),
            )
        name = document.get("name")
        if "name" not in document:
            reporter.error(Location(file, 1, 1), "missing required key `name` (the file's name)")
            continue
        if not isinstance(name, str) or not name.strip():
            reporter.error(document.value_loc("name"), f"`name` must be text, got {describe(name)}")
            continue
        if name in by_name:
            first = by_name[name][0].value_loc("name")
            reporter.error(
                document.value_loc("name"),
                f"duplicate file name `{name}`: {first.file}:{first.line} and {file} both use it",
            )
        by_name.setdefault(name, []).append(document)
    return by_name


def _nearest(candidates: list[YamlMap], near: Path | None) -> YamlMap:
    """The candidate whose file shares the longest folder path with `near` (first on a tie).

    Names must be unique (a duplicate is already an error); taking the nearest parent still
    checks each project of a tree against its own parent, so one error does not hide others.
    """
    if len(candidates) == 1 or near is None:
        return candidates[0]
    here = near.parent.parts

    def shared(candidate: YamlMap) -> int:
        there = candidate.loc.file.parent.parts if candidate.loc.file else ()
        count = 0
        for mine, theirs in zip(here, there, strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    return max(candidates, key=shared)


def _parents(
    document: YamlMap, by_name: dict[str, list[YamlMap]], reporter: Reporter, unreadable: int
) -> list[YamlMap] | None:
    """The parents of `document`, closest first; None after reporting a broken chain."""
    parents: list[YamlMap] = []
    chain = [str(document.get("name"))]
    current = document
    while current.get("super") is not None:
        wanted = current["super"]
        where = current.value_loc("super")
        if not isinstance(wanted, str):
            reporter.error(where, f"`super` must name a parent file, got {describe(wanted)}")
            return None
        candidates = by_name.get(wanted)
        if not candidates:
            supers = [n for n, ds in by_name.items() if ds[0].get("type") == "super"]
            reporter.error(
                where,
                f"unknown super `{wanted}`: no liminal.yml in the project has `name: {wanted}`"
                + (f" (parents found: {', '.join(sorted(supers))})" if supers else "")
                + ("; a file that failed to load may declare it" if unreadable else ""),
                suggestion=suggest(wanted, supers or by_name),
            )
            return None
        if wanted in chain:
            cycle = " -> ".join([*chain, wanted])
            reporter.error(where, f"`super` chain is a cycle: {cycle}")
            return None
        parent = _nearest(candidates, current.loc.file)
        chain.append(wanted)
        parents.append(parent)
        current = parent
    return parents
