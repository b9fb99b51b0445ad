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

# 3. Monitoring: the server logs every prediction to the model store (monitoring.prediction_log).
#    Send 200 requests drawn like the training data, run the drift pipeline: no drift. Then 200
#    requests whose petal width is shifted by +1.0 cm, run it again: drift on petal_width.
send_batch() {  # SHIFT
  .venv/bin/python - "$PORT" "$1" <<'PY'
import json, random, sys, urllib.request
port, shift = sys.argv[1], float(sys.argv[2])
from sklearn.datasets import load_iris
widths = load_iris().data[:, 3]
rng = random.Random(7)
for _ in range(200):
    body = json.dumps({"petal_width": str(round(rng.choice(widths) + shift, 2))}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST")
    urllib.request.urlopen(request).read()
PY
}
LOGS="$EXAMPLE/.liminal/volumes/gettingstartedvol/monitoring/my_datascience_server/predictions"
rm -rf "$LOGS"   # the demo's batches only: the drift window would also hold earlier runs' requests
echo
echo "== 200 requests like the training data, then the drift pipeline"
send_batch 0
sleep 1  # the log writer is a background thread
"$LIMINAL" run "$EXAMPLE" --pipeline my_datascience_server_drift | grep -E "^drift \|" || true
"$LIMINAL" monitor "$EXAMPLE"
echo
echo "== 200 more requests with petal_width shifted by +1.0, then the drift pipeline"
rm -rf "$LOGS"
send_batch 1.0
sleep 1
"$LIMINAL" run "$EXAMPLE" --pipeline my_datascience_server_drift | grep -E "^drift \|" || true
"$LIMINAL" monitor "$EXAMPLE"
