#!/usr/bin/env bash
# Train the creator's model on your shard of the data and save (and send) the result.
#
# Run from anywhere; works in the extracted bundle folder (this script's folder):
#   model/                the creator's initial model
#   model_contributor.py  settings.py  requirements.txt  [task_settings.json]
#
# Options:   --bad-model   save random weights instead of training (demo of a rejected result)
# Environment (all optional):
#   DECENTRALML_PYTHON          python to use (default: python3 if it has tensorflow + tf-keras,
#                               else a venv in ./.venv with requirements.txt installed)
#   DECENTRALML_CONTRIBUTOR_ID  names the result folder <model_name>_<id> (default: random)
#   DECENTRALML_SHARD_INDEX     which shard of the data is yours (default 0)
#   DECENTRALML_NUM_SHARDS      number of shards (default: the creator's setting)
#   DECENTRALML_OUTPUT_DIR      where results go (default ./output)
#   DECENTRALML_MAX_SAMPLES     train on at most this many samples (quick runs)
#   DECENTRALML_DATASET         auto | mnist | fashion_mnist
#   DECENTRALML_SABOTAGE        random_weights: same as --bad-model
#   DECENTRALML_SUBMISSION_ID   if set and `send_task_result` exists, send the result
set -euo pipefail

BUNDLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Paths given relative to where you ran the script stay so after moving into the bundle.
for var in DECENTRALML_OUTPUT_DIR DECENTRALML_MODEL_PATH; do
  case "${!var:-}" in ""|/*) ;; *) export "$var=$PWD/${!var}" ;; esac
done
cd "$BUNDLE_DIR"
log() { printf '[decentralml] %s\n' "$*"; }
die() { printf '[decentralml] error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --bad-model) ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option: $arg (see --help)" ;;
  esac
done

export TF_USE_LEGACY_KERAS=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

has_tf() { "$1" -c 'import tensorflow, tf_keras' >/dev/null 2>&1; }

if [ -n "${DECENTRALML_PYTHON:-}" ]; then
  PY="$DECENTRALML_PYTHON"
  has_tf "$PY" || die "DECENTRALML_PYTHON=$PY cannot import tensorflow and tf_keras"
elif command -v python3 >/dev/null && has_tf python3; then
  PY=python3
elif [ -x .venv/bin/python ] && has_tf .venv/bin/python; then
  PY=.venv/bin/python
else
  command -v python3 >/dev/null || die "python3 is needed"
  log "setting up a Python environment in $BUNDLE_DIR/.venv (TensorFlow: this takes a while)"
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  PY=.venv/bin/python
fi
log "python: $PY"
[ -d model ] || die "the creator's model is missing: expected $BUNDLE_DIR/model/"

result_file="$(mktemp)"
trap 'rm -f "$result_file"' EXIT
"$PY" model_contributor.py --write-result-path "$result_file" "$@"
result_dir="$(cat "$result_file")"
[ -n "$result_dir" ] || die "the training script did not report a result folder"
log "result: $result_dir"

if [ -n "${DECENTRALML_SUBMISSION_ID:-}" ]; then
  if command -v send_task_result >/dev/null; then
    log "sending the result for submission $DECENTRALML_SUBMISSION_ID"
    send_task_result --submission-id "$DECENTRALML_SUBMISSION_ID" --result-path "$result_dir"
  else
    log "send_task_result not found; send the result yourself:"
    log "  send_task_result --submission-id $DECENTRALML_SUBMISSION_ID --result-path $result_dir"
  fi
fi
