"""Fixtures of the serving tests: every server started through them is stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_helpers import Launch, launcher


@pytest.fixture(scope="module")
def launch_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    yield from launcher(tmp_path_factory.mktemp("servers"))


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    yield from launcher(tmp_path)
