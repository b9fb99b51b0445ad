"""Helpers shared by the DSL tests: writing small liminal.yml trees and loading them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from liminal_pulumi.dsl.diagnostics import Diagnostic, LiminalConfigError
from liminal_pulumi.dsl.loader import load_project_with_warnings
from liminal_pulumi.dsl.model import LiminalFile, Project

FIXTURES = Path(__file__).parent / "fixtures"
IRIS = Path(__file__).parents[2] / "examples" / "iris"

# A valid child file most tests start from.
MINIMAL = """
name: app
pipelines:
  - pipeline: p
    start_date: 2024-01-01
    timeout_minutes: 10
    tasks:
      - task: t
        type: python
        image: img
        cmd: echo hi
images:
  - image: img
    type: python
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def load(root: Path, files: dict[str, str]) -> tuple[Project, list[Diagnostic]]:
    return load_project_with_warnings(write_tree(root, files))


def load_file(root: Path, text: str) -> LiminalFile:
    project, _ = load(root, {"liminal.yml": text})
    (only,) = project.files
    return only


def errors_of(root: Path, files: dict[str, str]) -> list[Diagnostic]:
    with pytest.raises(LiminalConfigError) as caught:
        load(root, files)
    return list(caught.value.errors)


def find(diagnostics: list[Diagnostic], text: str) -> Diagnostic:
    matching = [d for d in diagnostics if text in d.message]
    assert matching, f"no diagnostic mentions {text!r}: {[str(d) for d in diagnostics]}"
    return matching[0]
