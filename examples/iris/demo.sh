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
