"""Check a `liminal plan --json` document against the policy pack, offline.

.venv/bin/liminal plan examples/iris --stack prod --json > prod.json
.venv/bin/python policy/check_plan.py prod.json
"""

import sys

from liminal_policy.offline import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
