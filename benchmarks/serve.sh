#!/usr/bin/env bash
# Throughput and latency of the model server: the iris /predict with a real model (trained by
# examples/iris/training.py into a temporary model store), served by `liminal serve` (gunicorn,
# the service's workers and threads), loaded by wrk -t2 -c16 on 127.0.0.1 for $DURATION.
#
#   bash benchmarks/serve.sh              our server: the same input every time (as the
#                                         baseline's benchmark), then a new input each request
#   bash benchmarks/serve.sh --baseline   also Apache Liminal 0.0.5's server (its set-up takes
#                                         about 80 s), measured in the same rounds, and the ratio
# The runs alternate for $ROUNDS rounds (default 5) and the report gives each run's medians: a
# 2-core virtual machine's throughput drifts by tens of percent from one minute to the next.
# Prints requests/s, p50/p99 latency and non-2xx responses per run. DURATION=8s by default.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=$ROOT/.venv/bin/python
LIMINAL=$ROOT/.venv/bin/liminal
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-5}
PEER_SOURCE=${PEER_SOURCE:-$ROOT/../shared/bench/liminal-0.0.5}
BASELINE=0
[ "${1:-}" = "--baseline" ] && BASELINE=1

if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

WORK=$(mktemp -d)
SERVER_PID=""
PEER_PID=""
PEER=""
cleanup() {
  for pid in $SERVER_PID $PEER_PID; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
  [ -z "$PEER" ] || rm -rf "$PEER"
}
trap cleanup EXIT

# The same request as the baseline's wrk script (post.lua), and one with a new input each time.
cat > "$WORK/same_input.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"petal_width": 1.3}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$WORK/new_input.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil, string.format('{"petal_width": %.9f}', math.random() * 2.5))
end
LUA

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_up() {  # URL PID LOG
  for _ in $(seq 1 300); do
    curl -sf "$1/healthcheck" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep 0.2
  done
  echo "server at $1 did not come up"; cat "$3"; exit 1
}

RUNS=()
TARGETS=()
if [ "$BASELINE" = 1 ]; then
  echo "== Liminal 0.0.5: set-up, and its server from the image context its own \`liminal build\` writes"
  PEER=$(mktemp -d)
  cp -r "$PEER_SOURCE/." "$PEER"
  bash "$PEER/setup.sh" > "$WORK/peer_setup.log" 2>&1 || { tail -20 "$WORK/peer_setup.log"; exit 1; }
  # Its benchmark script builds the context (and checks bad inputs); a short run is enough.
  DURATION=1s bash "$PEER/server/bench_serving.sh" image-py37 > "$WORK/peer_bench.log" 2>&1 \
    || { tail -20 "$WORK/peer_bench.log"; exit 1; }
  PEER_PORT=$(free_port)
  "$PEER/venv-server37/bin/python" "$PEER/server/run_server.py" \
    "$PEER/work/images/bench_python_server_image" "$PEER_PORT" > "$WORK/peer_server.log" 2>&1 &
  PEER_PID=$!
  wait_up "http://127.0.0.1:$PEER_PORT" "$PEER_PID" "$WORK/peer_server.log"
  TARGETS+=("liminal-0.0.5|http://127.0.0.1:$PEER_PORT/predict|same_input")
fi

echo "== training a model into a temporary model store"
PROJECT=$WORK/iris
mkdir -p "$PROJECT"
cp examples/iris/liminal.yml examples/iris/serving.py examples/iris/training.py "$PROJECT/"
STORE=$PROJECT/.liminal/volumes/gettingstartedvol
(cd "$PROJECT" && MOUNT_PATH=$STORE "$PY" -u training.py train && MOUNT_PATH=$STORE "$PY" -u training.py validate)

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
"$LIMINAL" serve "$PROJECT" --port "$PORT" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_up "$URL" "$SERVER_PID" "$WORK/server.log"
echo "check: $(curl -sS --fail-with-body -H 'Content-Type: application/json' -d '{"petal_width": 1.3}' "$URL/predict")"
TARGETS+=("liminal-pulumi/same_input|$URL/predict|same_input" "liminal-pulumi/new_input|$URL/predict|new_input")

# The same service without its `monitoring` section (no prediction log, no per-version metrics):
# the cost of logging every prediction is the difference between the two.
PROJECT_OFF=$WORK/iris-unmonitored
mkdir -p "$PROJECT_OFF"
cp -r "$PROJECT/." "$PROJECT_OFF/"
"$PY" - "$PROJECT_OFF/liminal.yml" <<'PY'
import sys, yaml
path = sys.argv[1]
document = yaml.safe_load(open(path))
for service in document.get("services", []):
    service.pop("monitoring", None)
open(path, "w").write(yaml.safe_dump(document, sort_keys=False))
PY
OFF_PORT=$(free_port)
OFF_URL=http://127.0.0.1:$OFF_PORT
"$LIMINAL" serve "$PROJECT_OFF" --port "$OFF_PORT" > "$WORK/server_off.log" 2>&1 &
SERVER_PID="$SERVER_PID $!"
wait_up "$OFF_URL" "${SERVER_PID##* }" "$WORK/server_off.log"
TARGETS+=("no-prediction-log/same_input|$OFF_URL/predict|same_input" "no-prediction-log/new_input|$OFF_URL/predict|new_input")

echo "== wrk -t2 -c16 -d$DURATION, $ROUNDS rounds of: ${TARGETS[*]%%|*}"
for target in "${TARGETS[@]}"; do  # warm-up
  IFS='|' read -r name url workload <<< "$target"
  wrk -t2 -c16 -d3s -s "$WORK/$workload.lua" "$url" > /dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  for target in "${TARGETS[@]}"; do
    IFS='|' read -r name url workload <<< "$target"
    out="$WORK/wrk_${name//\//_}_$round.txt"
    wrk -t2 -c16 -d"$DURATION" --latency -s "$WORK/$workload.lua" "$url" > "$out"
    RUNS+=("$name=$out")
  done
done
for pid in $SERVER_PID; do kill -0 "$pid"; done && echo "servers still running after the load: yes"
LOGGED=$(cat "$STORE"/monitoring/*/predictions/*.jsonl* 2>/dev/null | wc -l)
echo "prediction log lines written by the monitored server: $LOGGED"

echo
if [ "$BASELINE" = 1 ]; then
  "$PY" benchmarks/serve_report.py "${RUNS[@]}" --baseline liminal-0.0.5
else
  "$PY" benchmarks/serve_report.py "${RUNS[@]}"
fi
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
