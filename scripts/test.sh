#!/usr/bin/env bash
# Installs what the tests need, then runs them all: the committed runtime matches
# its sources, the pallet's unit, property and benchmark tests (cargo), and the
# Python suite against a real dev chain, Kubo and MinIO (pytest).
# Extra arguments go to pytest (e.g. -k storage).
#
#   scripts/test.sh --network [URL] [pytest args]
# runs the chain and marketplace tests (tests/test_marketplace.py, tests/test_pallet_on_chain.py,
# tests/test_chain*.py) and the network's fault tests (tests/network/) against a running network
# of validators instead of a dev chain of their own: URL is a node's WebSocket RPC, by default
# ws://127.0.0.1:9944 (`bash scripts/network.sh up` starts one there). Tests that need the dev
# chain's powers (marked dev_chain_only) are left out; pytest says how many and why.
set -euo pipefail
source "$(dirname "$0")/env.sh"
start=$(date +%s)

if [ "${1:-}" = "--network" ]; then
  shift
  url="ws://127.0.0.1:9944"
  if [[ "${1:-}" =~ ^wss?:// ]]; then url="$1"; shift; fi
  [ -x "$DML_VENV/bin/python" ] || bash "$DML_ROOT/scripts/install.sh"
  if ! "$DML_VENV/bin/python" - "$url" <<'PY'
import json, sys, urllib.request
url = "http" + sys.argv[1][2:]  # the node serves HTTP and WebSocket on one port
body = json.dumps({"id": 1, "jsonrpc": "2.0", "method": "system_health", "params": []}).encode()
request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        json.loads(response.read(1 << 20))["result"]
except Exception as error:
    sys.exit(f"no node answers at {sys.argv[1]} ({error})")
PY
  then
    dml_log "error: start the network first: bash scripts/network.sh up (or name a node: --network ws://HOST:PORT)"
    exit 2
  fi
  dml_log "chain, marketplace and network tests (pytest) against the network at $url"
  cd "$DML_ROOT"
  DECENTRALML_TEST_NETWORK_URL="$url" "$DML_VENV/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_chain*.py tests/test_pallet_on_chain.py tests/test_marketplace.py tests/network "$@"
  dml_log "all network tests passed in $(( $(date +%s) - start ))s"
  exit 0
fi
unset DECENTRALML_TEST_NETWORK_URL   # the default run starts a dev chain of its own

bash "$DML_ROOT/scripts/install.sh"
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"   # Debian's rustc, shared with the runtime build
bash "$DML_ROOT/scripts/check_runtime_artifacts.sh"

dml_log "pallet tests (cargo)"
(cd "$DML_ROOT/pallet" && PATH="/usr/bin:$PATH" SKIP_WASM_BUILD=1 \
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DML_CACHE/cargo-target}" \
  cargo test --locked -p pallet-decentralml --features runtime-benchmarks)

dml_log "client, storage, federation and end-to-end tests (pytest)"
cd "$DML_ROOT"
"$DML_VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
dml_log "all tests passed in $(( $(date +%s) - start ))s"
