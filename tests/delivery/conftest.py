"""The policy pack is not an installed package: its folder goes on the path, as the Pulumi CLI
puts it when it runs policy/__main__.py."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO_ROOT / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))
