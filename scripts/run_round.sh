#!/usr/bin/env bash
# One full federated round on the local dev chain: Alice posts a paid training task,
# Bob, Charlie and Dave train on their own shards, Eve sends a bad model; Alice
# validates, federates the accepted models and pays on-chain. Prints the summary.
#
#   scripts/run_round.sh [options]
#     --epochs N              training epochs per contributor (default 1)
#     --contributors A,B,...  dev accounts that contribute (default Bob,Charlie,Dave,Eve)
#     --saboteurs A,...       contributors sending random weights (default Eve; '' for none)
#     --policy NAME           average | weighted | median | trimmed_mean (default average)
#     --threshold X           held-out accuracy to accept a result (default 0.5)
#     --max-samples N         train on at most N samples per contributor (default: whole shard)
#     --out DIR               run folder (default ./runs/<timestamp>/)
#     --port P                dev chain port (default 9944)
#     --no-install            skip the install step (scripts/install.sh)
#
# Installs what is missing, starts the dev chain and Kubo + MinIO unless they already
# run (they are left running: `scripts/devnet.sh down`, `scripts/storage.sh down`).
set -euo pipefail
source "$(dirname "$0")/env.sh"
started=$(date +%s)

install=1
port="${DECENTRALML_PORT:-9944}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --port) port="${2:?--port needs a value}"; args+=("$1" "$2"); shift ;;
    --port=*) port="${1#--port=}"; args+=("$1") ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [ "$install" = 1 ]; then
  bash "$DML_ROOT/scripts/install.sh"
fi
[ -f "$DML_ROOT/substrate_client/runtime/chain_spec_raw.json" ] \
  || dml_die "no chain spec in substrate_client/runtime/; build it with scripts/build_runtime.sh"

"$DML_VENV/bin/python" -m substrate_client.devnet up --port "$port" >&2
bash "$DML_ROOT/scripts/storage.sh" up
eval "$(bash "$DML_ROOT/scripts/storage.sh" env)"
ready=$(date +%s)
dml_log "ready in $((ready - started))s; running the round"

"$DML_VENV/bin/python" -m substrate_client.federated_round "${args[@]}"

finished=$(date +%s)
dml_log "done in $((finished - started))s wall time ($((ready - started))s install and start-up, $((finished - ready))s the round)"
dml_log "the dev chain and storage keep running: scripts/devnet.sh down; scripts/storage.sh down"
