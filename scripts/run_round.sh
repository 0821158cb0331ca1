#!/usr/bin/env bash
# The main job: a federated training campaign on the local dev chain. Alice runs 3 rounds,
# each a paid training task carrying the model federated in the round before; Bob, Charlie
# and Dave run `decentralml work` agents training on their own non-IID shards, Eve's agent
# sends a bad model every round. Alice validates, federates the accepted models and pays
# on-chain round by round. Prints the summary.
#
#   scripts/run_round.sh [options]
#     --rounds N              rounds of the campaign (default 3; 1: a single round)
#     --epochs N              training epochs per contributor and round (default 1)
#     --contributors A,B,...  dev accounts that contribute (default Bob,Charlie,Dave,Eve)
#     --saboteurs A,...       contributors sending random weights (default Eve; '' for none)
#     --partition P           by_label (non-IID, default) or iid
#     --max-samples N         train on at most N samples per contributor and round (default 2000)
#     --clip-norm C --noise-multiplier S   differentially private updates
#     --out DIR               run folder (default ./runs/<timestamp>/)
#     --port P                dev chain port (default 9944)
#     --no-install            skip the install step (scripts/install.sh)
#     (and every other option of `decentralml run_round --help`)
#
# Installs what is missing, then runs `decentralml run_round`, which starts the dev chain
# and Kubo + MinIO unless they already run (they are left running: `scripts/devnet.sh
# down`, `scripts/storage.sh down`).
set -euo pipefail
source "$(dirname "$0")/env.sh"
started=$(date +%s)

install=1
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done
args=()
for arg in "$@"; do
  if [ "$arg" = --no-install ]; then install=0; else args+=("$arg"); fi
done

if [ "$install" = 1 ]; then
  bash "$DML_ROOT/scripts/install.sh"
fi
ready=$(date +%s)
dml_log "ready in $((ready - started))s; running the campaign"

# The main job is the `decentralml run_round` command; it starts the dev chain and the
# storage daemons unless they run. This checkout's package, whatever the folder it runs from.
PYTHONPATH="$DML_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$DML_VENV/bin/python" -m substrate_client.cli run_round "${args[@]}"

finished=$(date +%s)
dml_log "done in $((finished - started))s wall time ($((ready - started))s install, $((finished - ready))s the campaign)"
dml_log "the dev chain and storage keep running: scripts/devnet.sh down; scripts/storage.sh down"
