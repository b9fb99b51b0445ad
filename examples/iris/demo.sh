#!/usr/bin/env bash
# The local iris demo (`make demo`): train, validate and promote a model with real Airflow, then
# serve it. Each step is one block; later steps append below.
set -euo pipefail
cd "$(dirname "$0")/../.."
LIMINAL=.venv/bin/liminal
EXAMPLE=examples/iris

# 1. Run the pipeline (start -> train -> validate -> end) with Airflow on this machine; the model
#    store is the local folder examples/iris/.liminal/volumes/gettingstartedvol.
"$LIMINAL" run "$EXAMPLE"
echo "production models: $(ls "$EXAMPLE/.liminal/volumes/gettingstartedvol/production")"

# 2. Serve the newest production model (gunicorn, `liminal serve`) and ask it for a prediction;
#    the server is stopped (SIGTERM: graceful) however the script ends.
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$LIMINAL" serve "$EXAMPLE" --port "$PORT" &
SERVER_PID=$!
trap 'kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "liminal serve exited before it was ready" >&2; exit 1; }
  sleep 0.2
done
echo "POST http://127.0.0.1:$PORT/predict {\"petal_width\": \"2.1\"}:"
curl -sS --fail-with-body -X POST -d '{"petal_width": "2.1"}' "http://127.0.0.1:$PORT/predict"
echo
