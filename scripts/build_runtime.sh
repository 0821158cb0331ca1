#!/usr/bin/env bash
# Builds the runtime wasm and writes the raw chain spec the Python package ships
# (substrate_client/runtime/), with the hash of the sources it came from.
# The first build takes a long while on 2 cores; later ones reuse the cache.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"
dml_wasm_build_env
out="$DML_ROOT/substrate_client/runtime"
mkdir -p "$out"
dml_log "building the runtime and the chain-spec writer (native debug, wasm release)"
(cd "$DML_ROOT/pallet" && cargo build --locked -p decentralml-chain-spec)
"$CARGO_TARGET_DIR/debug/decentralml-chain-spec" "$out/chain_spec_raw.json.tmp"
mv "$out/chain_spec_raw.json.tmp" "$out/chain_spec_raw.json"
wasm="$(dml_built_wasm)"
{
  echo "sources $(bash "$DML_ROOT/scripts/runtime_source_hash.sh")"
  echo "wasm $(sha256sum "$wasm" | cut -d' ' -f1)"
  echo "rustc $(/usr/bin/rustc --version)"
} > "$out/BUILD.sha256"
dml_log "wrote $out/chain_spec_raw.json ($(du -h "$out/chain_spec_raw.json" | cut -f1)) and BUILD.sha256"
