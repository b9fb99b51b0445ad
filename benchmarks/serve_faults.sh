#!/usr/bin/env bash
# The model server under faults (issue 11): /healthcheck latency with 50 idle and 10 slow clients
# attached, requests lost across a SIGTERM under keep-alive load, and a hung endpoint's effect.
# The iris /predict with a real model (trained by examples/iris/training.py into a temporary model
# store) beside a /hang endpoint that never returns; the service's 2 workers x 1 thread and a
# 5 s timeout_seconds. Everything on 127.0.0.1, bounded in count and time (about a minute).
#
#   bash benchmarks/serve_faults.sh
#   SERVER_PYTHONPATH=/path/to/other/checkout bash benchmarks/serve_faults.sh   # that one's server
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=$ROOT/.venv/bin/python
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

APP=$WORK/app
mkdir -p "$APP"
cp examples/iris/serving.py examples/iris/training.py "$APP/"
cat > "$APP/faults.py" <<'PYTHON'
import time


def hang(_body):
    while True:
        time.sleep(0.1)
PYTHON
cat > "$APP/endpoints.json" <<'JSON'
[{"endpoint": "/predict", "module": "serving", "function": "predict"},
 {"endpoint": "/hang", "module": "faults", "function": "hang"}]
JSON
echo "== training a model into a temporary model store"
export MOUNT_PATH=$WORK/store
(cd "$APP" && "$PY" -u training.py train >/dev/null && "$PY" -u training.py validate)
echo
"$PY" benchmarks/serve_faults.py "$APP" "$APP/endpoints.json" --timeout 5
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
