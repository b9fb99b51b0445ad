"""Session-wide test setup: the program folder `infra/` on the path (for `stack_settings`), and
one mock cloud (`liminal_pulumi.testing`) for every test that declares resources (`set_mocks` is
process-global)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from liminal_pulumi.testing import MockCloud, install

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (REPO_ROOT, REPO_ROOT / "infra"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def pulumi_mocks() -> MockCloud:
    return install(MockCloud(), project="liminal", stack="test")
