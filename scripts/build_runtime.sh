#!/usr/bin/env bash
# Builds the runtime wasm and writes the raw chain spec the Python package ships
# (substrate_client/runtime/), with the hash of the sources it came from.
# Needs the wasm toolchain (scripts/install_wasm_toolchain.sh, run first here).
# The first build takes a long while on 2 cores; later ones reuse the cache.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"
# Debian's rustc 1.96 (which has the wasm32v1-none sysroot) for the outer build
# and for substrate-wasm-builder's inner build, which drops RUSTC but keeps PATH.
export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DML_CACHE/cargo-target}"
export WASM_BUILD_WORKSPACE_HINT="$DML_ROOT/pallet"
# Rust 1.96's wasm targets no longer pass --allow-undefined to the linker, and this
# polkadot-sdk release declares its host functions without an import module.
export WASM_BUILD_RUSTFLAGS="-C link-arg=--allow-undefined"
unset SKIP_WASM_BUILD
out="$DML_ROOT/substrate_client/runtime"
mkdir -p "$out"
dml_log "building the runtime and the chain-spec writer (native debug, wasm release)"
(cd "$DML_ROOT/pallet" && cargo build --locked -p decentralml-chain-spec)
"$CARGO_TARGET_DIR/debug/decentralml-chain-spec" "$out/chain_spec_raw.json.tmp"
mv "$out/chain_spec_raw.json.tmp" "$out/chain_spec_raw.json"
wbuild="$CARGO_TARGET_DIR/debug/wbuild/decentralml-runtime"
# wasm-builder compresses the blob only for some profiles; take the smallest it made.
for wasm in "$wbuild"/decentralml_runtime.compact.compressed.wasm "$wbuild"/decentralml_runtime.wasm; do
  [ -f "$wasm" ] && break
done
{
  echo "sources $(bash "$DML_ROOT/scripts/runtime_source_hash.sh")"
  echo "wasm $(sha256sum "$wasm" | cut -d' ' -f1)"
  echo "rustc $(/usr/bin/rustc --version)"
} > "$out/BUILD.sha256"
dml_log "wrote $out/chain_spec_raw.json ($(du -h "$out/chain_spec_raw.json" | cut -f1)) and BUILD.sha256"
