#!/usr/bin/env bash
# Regenerates pallet/pallet-decentralml/src/weights.rs from the pallet's benchmarks:
# builds the runtime wasm with `runtime-benchmarks`, runs it in frame-omni-bencher
# (installed from crates.io into the cache), and renders pallet/benchmarking/weight-template.hbs.
# Then rebuilds the chain spec, since the sources changed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"
dml_wasm_build_env
bencher="$DML_CACHE/tools/bin/frame-omni-bencher"
# The bencher's host functions must match the runtime's release: 0.17.x is built on
# frame-benchmarking-cli 53, i.e. stable2512 (newer ones cannot run this runtime).
bencher_version="0.17.3"
if ! "$bencher" --version 2>/dev/null | grep -qx "frame-omni-bencher $bencher_version"; then
  # Its RocksDB binding is generated with bindgen (needs libclang) and its network
  # stack's protocol buffers with protoc.
  if ! dpkg -s libclang-dev protobuf-compiler >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev protobuf-compiler >/dev/null
  fi
  dml_log "installing frame-omni-bencher (a long build the first time)"
  CARGO_TARGET_DIR="$DML_CACHE/bencher-target" cargo install --locked --force \
    --root "$DML_CACHE/tools" "frame-omni-bencher@$bencher_version"
fi
dml_log "building the runtime with runtime-benchmarks"
(cd "$DML_ROOT/pallet" && cargo build --locked -p decentralml-runtime --features runtime-benchmarks)
"$bencher" v1 benchmark pallet \
  --runtime "$(dml_built_wasm)" \
  --genesis-builder runtime --genesis-builder-preset development \
  --pallet pallet_decentralml --extrinsic '*' \
  --steps "${STEPS:-20}" --repeat "${REPEAT:-10}" \
  --template "$DML_ROOT/pallet/benchmarking/weight-template.hbs" \
  --output "$DML_ROOT/pallet/pallet-decentralml/src/weights.rs"
dml_log "wrote pallet/pallet-decentralml/src/weights.rs"
bash "$DML_ROOT/scripts/build_runtime.sh"
