"""Where the delivery tests find what they check (a module with a unique name, so that tests
need not import `conftest`, which other test folders have too)."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO_ROOT / "policy"

# The policy pack is not an installed package: its folder goes on the path, as the Pulumi CLI
# puts it when it runs policy/__main__.py.
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))
