#!/usr/bin/env bash
# Prepares a Rust toolchain that can build the runtime wasm without rustup targets:
# Debian's rustc-web/cargo-web (1.96) with its std sources and lld, plus core/alloc
# for wasm32v1-none compiled once from those sources and installed into the
# sysroot, which is what substrate-wasm-builder looks for. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if ! dpkg -s rustc-web cargo-web rust-web-src lld-22 >/dev/null 2>&1; then
  dml_log "installing rustc-web cargo-web rust-web-src lld-22 from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null
fi
export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
target=wasm32v1-none
libdir="$(/usr/bin/rustc --print target-libdir --target "$target")"
# The marker records how the rlibs were built; older ones lacked LTO bitcode.
marker="$libdir/.decentralml-sysroot-v2"
if [ -e "$marker" ]; then
  dml_log "core/alloc for $target already in $libdir"
  exit 0
fi
rm -f "$libdir"/lib*.rlib
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<'TOML'
[package]
name = "sysroot-seed"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["rlib"]
[profile.release]
panic = "abort"
TOML
echo '#![no_std]' > "$work/src/lib.rs"
dml_log "compiling core/alloc for $target from /usr/lib/rustlib/src (about a minute)"
# The runtime is linked with LTO, which needs bitcode in core/alloc too.
(cd "$work" && RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C embed-bitcode=yes" /usr/bin/cargo build -q --release \
   --target "$target" -Zbuild-std=core,alloc)
mkdir -p "$libdir"
find "$work/target/$target/release/deps" -name 'lib*.rlib' ! -name 'libsysroot_seed*' \
  -exec cp {} "$libdir/" \;
touch "$marker"
# Wasm builds made against the previous core/alloc cannot link against the new ones.
rm -rf "$DML_CACHE"/cargo-target/*/wbuild
dml_log "installed $(ls "$libdir"/*.rlib | wc -l) rlibs into $libdir"
