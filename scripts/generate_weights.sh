#!/usr/bin/env bash
# Regenerates pallet/pallet-decentralml/src/weights.rs from the pallet's benchmarks:
# builds the runtime wasm with `runtime-benchmarks`, runs it in frame-omni-bencher
# (installed from crates.io into the cache), and renders pallet/benchmarking/weight-template.hbs.
# Then rebuilds the chain spec, since the sources changed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bencher="$DML_CACHE/tools/bin/frame-omni-bencher"
# The bencher's host functions must match the runtime's release: 0.17.x is built on
# frame-benchmarking-cli 53, i.e. stable2512 (newer ones cannot run this runtime).
bencher_version="0.17.3"
if ! "$bencher" --version 2>/dev/null | grep -qx "frame-omni-bencher $bencher_version"; then
  # One of its dependencies (picosimd) parses `rustc --version` and cannot read
  # Debian's "(built from a source tarball)" suffix, so it is built with rustup's toolchain.
  if rustc --version | grep -q "source tarball"; then
    dml_die "frame-omni-bencher needs a rustup toolchain first on PATH, found $(command -v rustc);"\
' try: PATH="$HOME/.cargo/bin:$PATH" bash scripts/generate_weights.sh'
  fi
  # Its RocksDB binding is generated with bindgen (needs libclang) and its network
  # stack's protocol buffers with protoc.
  if ! dpkg -s libclang-dev protobuf-compiler >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev protobuf-compiler >/dev/null
  fi
  dml_log "installing frame-omni-bencher (a long build the first time)"
  # SKIP_WASM_BUILD: its embedded test runtime serves only `benchmark storage`, not
  # `benchmark pallet`, and rustup here has no wasm target to build it with.
  SKIP_WASM_BUILD=1 CARGO_TARGET_DIR="$DML_CACHE/bencher-target" cargo install --locked --force \
    --root "$DML_CACHE/tools" "frame-omni-bencher@$bencher_version"
fi
bash "$DML_ROOT/scripts/install_wasm_toolchain.sh"
dml_wasm_build_env
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
