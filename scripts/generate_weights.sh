#!/usr/bin/env bash
# Regenerates pallet/pallet-decentralml/src/weights.rs from the pallet's benchmarks:
# builds the runtime wasm with `runtime-benchmarks`, runs it in frame-omni-bencher
# (installed from crates.io into the cache), and renders pallet/benchmarking/weight-template.hbs.
# Afterwards rebuild the chain spec (scripts/build_runtime.sh): the sources changed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"
export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DML_CACHE/cargo-target}"
export WASM_BUILD_RUSTFLAGS="-C link-arg=--allow-undefined"
export WASM_BUILD_WORKSPACE_HINT="$DML_ROOT/pallet"
unset SKIP_WASM_BUILD
bencher="$DML_CACHE/tools/bin/frame-omni-bencher"
if [ ! -x "$bencher" ]; then
  dml_log "installing frame-omni-bencher (a long build the first time)"
  CARGO_TARGET_DIR="$DML_CACHE/bencher-target" cargo install --locked \
    --root "$DML_CACHE/tools" frame-omni-bencher@0.28.0
fi
dml_log "building the runtime with runtime-benchmarks"
(cd "$DML_ROOT/pallet" && cargo build --locked -p decentralml-runtime --features runtime-benchmarks)
wbuild="$CARGO_TARGET_DIR/debug/wbuild/decentralml-runtime"
for wasm in "$wbuild"/decentralml_runtime.compact.compressed.wasm "$wbuild"/decentralml_runtime.wasm; do
  [ -f "$wasm" ] && break
done
"$bencher" v1 benchmark pallet \
  --runtime "$wasm" \
  --genesis-builder runtime --genesis-builder-preset development \
  --pallet pallet_decentralml --extrinsic '*' \
  --steps "${STEPS:-20}" --repeat "${REPEAT:-10}" \
  --template "$DML_ROOT/pallet/benchmarking/weight-template.hbs" \
  --output "$DML_ROOT/pallet/pallet-decentralml/src/weights.rs"
dml_log "wrote pallet/pallet-decentralml/src/weights.rs; now run scripts/build_runtime.sh"
