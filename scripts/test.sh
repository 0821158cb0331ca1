#!/usr/bin/env bash
# Installs what the tests need, then runs them all: the committed runtime matches
# its sources, the pallet's unit, property and benchmark tests (cargo), and the
# Python suite against a real dev chain, Kubo and MinIO (pytest).
# Extra arguments go to pytest (e.g. -k storage).
set -euo pipefail
source "$(dirname "$0")/env.sh"
start=$(date +%s)
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
