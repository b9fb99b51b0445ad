"""Session-wide test setup: the program folder `infra/` on the path (for `stack_settings`), and
one set of Pulumi mocks for every test that declares resources (`set_mocks` is process-global)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (REPO_ROOT, REPO_ROOT / "infra"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from pulumi_mocks import LiminalMocks, install  # noqa: E402


@pytest.fixture(scope="session")
def pulumi_mocks() -> LiminalMocks:
    return install()
