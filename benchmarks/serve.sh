#!/usr/bin/env bash
# Throughput and latency of the model server: the iris /predict with a real model (trained by
# examples/iris/training.py into a temporary model store), served by `liminal serve` (gunicorn,
# the service's workers and threads), loaded by wrk -t2 -c16 on 127.0.0.1 for $DURATION.
#
#   bash benchmarks/serve.sh              our server: the same input every time (as the
#                                         baseline's benchmark), then a new input each request
#   bash benchmarks/serve.sh --baseline   also Apache Liminal 0.0.5's server in the same run
#                                         (its set-up takes about 80 s) and the ratio
# Prints requests/s, p50/p99 latency and non-2xx responses per run. DURATION=10s by default.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=$ROOT/.venv/bin/python
LIMINAL=$ROOT/.venv/bin/liminal
DURATION=${DURATION:-10s}
PEER_SOURCE=${PEER_SOURCE:-$ROOT/../shared/bench/liminal-0.0.5}
BASELINE=0
[ "${1:-}" = "--baseline" ] && BASELINE=1

if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
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

RUNS=()
if [ "$BASELINE" = 1 ]; then
  echo "== Liminal 0.0.5 (set-up, then its own benchmark script)"
  PEER=$(mktemp -d)
  cp -r "$PEER_SOURCE/." "$PEER"
  bash "$PEER/setup.sh" > "$WORK/peer_setup.log" 2>&1 || { tail -20 "$WORK/peer_setup.log"; exit 1; }
  DURATION=$DURATION bash "$PEER/server/bench_serving.sh" image-py37 > "$WORK/peer_bench.log" 2>&1 \
    || { tail -20 "$WORK/peer_bench.log"; exit 1; }
  cp "$PEER/results/wrk_image-py37.txt" "$WORK/wrk_liminal_0.0.5.txt"
  rm -rf "$PEER"
  RUNS+=("liminal-0.0.5=$WORK/wrk_liminal_0.0.5.txt")
fi

echo "== training a model into a temporary model store"
PROJECT=$WORK/iris
mkdir -p "$PROJECT"
cp examples/iris/liminal.yml examples/iris/serving.py examples/iris/training.py "$PROJECT/"
STORE=$PROJECT/.liminal/volumes/gettingstartedvol
(cd "$PROJECT" && MOUNT_PATH=$STORE "$PY" -u training.py train && MOUNT_PATH=$STORE "$PY" -u training.py validate)

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
"$LIMINAL" serve "$PROJECT" --port "$PORT" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -sf "$URL/ready" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done
echo "check: $(curl -sS --fail-with-body -H 'Content-Type: application/json' -d '{"petal_width": 1.3}' "$URL/predict")"

echo "== wrk -t2 -c16 -d$DURATION on $URL/predict"
wrk -t2 -c16 -d5s -s "$WORK/same_input.lua" "$URL/predict" > /dev/null  # warm-up
for workload in same_input new_input; do
  wrk -t2 -c16 -d"$DURATION" --latency -s "$WORK/$workload.lua" "$URL/predict" > "$WORK/wrk_$workload.txt"
  RUNS+=("liminal-pulumi/$workload=$WORK/wrk_$workload.txt")
done
kill -0 "$SERVER_PID" && echo "server still running after the load: yes"

echo
if [ "$BASELINE" = 1 ]; then
  "$PY" benchmarks/serve_report.py "${RUNS[@]}" --baseline liminal-0.0.5
else
  "$PY" benchmarks/serve_report.py "${RUNS[@]}"
fi
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
