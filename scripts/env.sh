# Shared settings for the project's scripts. Source it; it changes nothing by itself.
# Heavy, reusable builds live outside the clone so a fresh checkout reuses them.
DML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DML_CACHE="${DECENTRALML_CACHE:-$HOME/.cache/decentralml}"
DML_VENV="$DML_CACHE/venv"
DML_NODE_DIR="$DML_CACHE/node"
DML_GOBIN="$DML_CACHE/go/bin"
DML_RUN="${DECENTRALML_RUN_DIR:-$DML_CACHE/run}"
# Versions the project is tested with.
DML_KUBO_VERSION="v0.39.0"
# Kubo v0.39 does not build with Go 1.26; the go command fetches this toolchain
# from the module proxy when asked.
DML_GO_TOOLCHAIN="go1.25.5"
DML_MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
DML_CHOPSTICKS_VERSION="1.5.1"
DML_NODE22_VERSION="22"
# An independent JavaScript client, used by the tests to read the chain.
DML_POLKADOT_API_VERSION="16.5.6"
export DML_ROOT DML_CACHE DML_VENV DML_NODE_DIR DML_GOBIN DML_RUN

dml_log() { printf '[decentralml] %s\n' "$*" >&2; }
dml_die() { printf '[decentralml] error: %s\n' "$*" >&2; exit 1; }

# The toolchain settings every runtime build needs: Debian's rustc 1.96 (which has
# the wasm32v1-none sysroot) for the outer build and for substrate-wasm-builder's
# inner build, which drops RUSTC but keeps PATH.
dml_wasm_build_env() {
  export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DML_CACHE/cargo-target}"
  export WASM_BUILD_WORKSPACE_HINT="$DML_ROOT/pallet"
  # Rust 1.96's wasm targets no longer pass --allow-undefined to the linker, and this
  # polkadot-sdk release declares its host functions without an import module.
  export WASM_BUILD_RUSTFLAGS="-C link-arg=--allow-undefined"
  unset SKIP_WASM_BUILD
}

# The runtime wasm the last build produced (wasm-builder compresses it only for some profiles).
dml_built_wasm() {
  local wbuild="$CARGO_TARGET_DIR/debug/wbuild/decentralml-runtime" wasm
  for wasm in "$wbuild"/decentralml_runtime.compact.compressed.wasm "$wbuild"/decentralml_runtime.wasm; do
    [ -f "$wasm" ] && { echo "$wasm"; return; }
  done
  dml_die "no runtime wasm under $wbuild"
}
