"""docs/components/*.md are the components' docstrings rendered: they cannot drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "docs" / "components" / "generate.py"


def test_component_pages_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pages_name_the_allowed_values_from_defaults() -> None:
    services = (REPO_ROOT / "docs/components/services.md").read_text()
    assert "`defaults.SERVICE_EXPOSURES` (= `cluster_ip, internal_load_balancer, " in services
    network = (REPO_ROOT / "docs/components/network.md").read_text()
    assert "`defaults.NAT_STRATEGIES` (= `single, per_az`)" in network
