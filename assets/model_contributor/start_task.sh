#!/usr/bin/env bash
# Train the creator's model on your shard of the data and save the result.
#
# Run from anywhere; works in the extracted bundle folder (this script's folder):
#   model/                the creator's initial model
#   model_contributor.py  settings.py  requirements.txt  [task_settings.json]
#
# `assign_task --run` runs it in a sandbox (no network, nothing of yours but the Python
# it is given) and then stores and sends the result itself. This script never sends
# anything: it leaves one SavedModel folder in the output folder and exits 0.
#
# Options:   --bad-model   save random weights instead of training (demo of a rejected result)
# Environment (all optional):
#   DECENTRALML_PYTHON          a Python with tensorflow and tf-keras (assign_task --run gives
#                               the client's own); default python3 if it has them
#   DECENTRALML_CONTRIBUTOR_ID  names the result folder <model_name>_<id> (default: random)
#   DECENTRALML_SHARD_INDEX     which shard of the data is yours (default 0)
#   DECENTRALML_NUM_SHARDS      number of shards (default: the creator's setting)
#   DECENTRALML_OUTPUT_DIR      where results go (default ./output)
#   DECENTRALML_MAX_SAMPLES     train on at most this many samples (quick runs)
#   DECENTRALML_DATASET         auto | mnist | fashion_mnist
#   DECENTRALML_SABOTAGE        random_weights: same as --bad-model
#   DECENTRALML_TASK_ID, DECENTRALML_SUBMISSION_ID   printed only
#   HOME                        keras' data-set cache is ~/.keras/datasets
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

# No environment is set up here: in the sandbox there is no network to install from.
if [ -n "${DECENTRALML_PYTHON:-}" ]; then
  PY="$DECENTRALML_PYTHON"
  has_tf "$PY" || die "the Python given (DECENTRALML_PYTHON=$PY) cannot import tensorflow and tf_keras; give one that can (assign_task --run --python PATH)"
elif command -v python3 >/dev/null && has_tf python3; then
  PY=python3
else
  die "no Python with tensorflow and tf-keras: set DECENTRALML_PYTHON to one (e.g. a venv where you ran pip install -r $BUNDLE_DIR/requirements.txt)"
fi
log "python: $PY${DECENTRALML_SANDBOX:+ (in the sandbox)}"
[ -d model ] || die "the creator's model is missing: expected $BUNDLE_DIR/model/"
[ -z "${DECENTRALML_SUBMISSION_ID:-}" ] || log "task ${DECENTRALML_TASK_ID:-?}, submission $DECENTRALML_SUBMISSION_ID"

result_file="$(mktemp)"
trap 'rm -f "$result_file"' EXIT
"$PY" model_contributor.py --write-result-path "$result_file" "$@"
result_dir="$(cat "$result_file")"
[ -n "$result_dir" ] || die "the training script did not report a result folder"
log "result: $result_dir"
