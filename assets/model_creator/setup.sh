#!/usr/bin/env bash
# Set up the model creator's side of the example task, from this folder:
#   1. a Python with TensorFlow, tf-keras and the decentralml client (this repository):
#      $DECENTRALML_PYTHON, else python3 if it has them, else ./.venv with requirements.txt;
#   2. the offline dataset when there is no network (scripts/install_data.sh);
#   3. the initial model in ./model/ and the contributor bundle in ./bundle/.
# Idempotent. Settings: settings.py, overridable with DECENTRALML_* environment variables.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
log() { printf '[decentralml] %s\n' "$*"; }
export TF_USE_LEGACY_KERAS=1

ready() { "$1" -c 'import tensorflow, tf_keras, substrate_client' >/dev/null 2>&1; }
if [ -n "${DECENTRALML_PYTHON:-}" ]; then
  PY="$DECENTRALML_PYTHON"
elif command -v python3 >/dev/null && ready python3; then
  PY=python3
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  ready .venv/bin/python || .venv/bin/python -m pip install --quiet -r requirements.txt
  PY=.venv/bin/python
fi
ready "$PY" || { echo "[decentralml] error: $PY cannot import tensorflow, tf_keras and substrate_client" >&2; exit 1; }
log "python: $PY"

if [ -x ../../scripts/install_data.sh ]; then
  ../../scripts/install_data.sh || log "offline data not installed; MNIST will be downloaded"
fi

[ -d model ] || "$PY" model_creator.py create
"$PY" model_creator.py bundle
log "next: post the task with the bundle; contributors run ./start_task.sh in it"
