"""Session-wide test setup: the repository root on the path (for `infra`), and one set of
Pulumi mocks for every test that declares resources (`set_mocks` is process-global)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pulumi_mocks import LiminalMocks, install  # noqa: E402


@pytest.fixture(scope="session")
def pulumi_mocks() -> LiminalMocks:
    return install()
