"""The README's "Use the components in your own Pulumi program" shows the tested programs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted((Path(__file__).resolve().parent / "programs").glob("*/__main__.py"))


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.parent.name)
def test_the_readme_shows_the_tested_program_verbatim(program: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Use the components in your own Pulumi program", 1)[1]
    assert f"```python\n{program.read_text().rstrip()}\n```" in section
