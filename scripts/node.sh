#!/usr/bin/env bash
# Build or locate our own node (pallet/node, binary decentralml-node: Aura + GRANDPA).
#   scripts/node.sh build [--detach]   build it (about 75 min the first time on 2 cores)
#   scripts/node.sh path               print the binary's path (exit 1 if it is not built)
#   scripts/node.sh status             built or not, its version, a running build's progress
# The build runs in the background at nice 19 with rustup's toolchain, into
# $DECENTRALML_CACHE/node-target; its log and pid file are in $DECENTRALML_CACHE/node-build/.
# Up to date or not is cargo's own freshness check: a second `build` recompiles only what
# changed in the node's or the runtime's sources (and returns in seconds when nothing did).
set -euo pipefail
source "$(dirname "$0")/env.sh"

NODE_SRC="$DML_ROOT/pallet/node"
NODE_TARGET="${DECENTRALML_NODE_TARGET:-$DML_CACHE/node-target}"
NODE_BIN="$NODE_TARGET/release/decentralml-node"
BUILD_DIR="$DML_CACHE/node-build"
BUILD_LOG="$BUILD_DIR/build.log"
BUILD_PID="$BUILD_DIR/build.pid"
BUILD_RC="$BUILD_DIR/build.rc"
BUILD_START="$BUILD_DIR/build.started"
PROGRESS_EVERY="${DECENTRALML_NODE_PROGRESS_EVERY:-30}"
RUSTUP_CARGO="$HOME/.cargo/bin/cargo"

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

# The pid of the build this script started, if it is still running (the pid file is
# checked against the process, so a reused pid is never taken for our build).
running_build() {
  local pid
  [ -f "$BUILD_PID" ] || return 1
  pid="$(cat "$BUILD_PID")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "node-build-runner" || return 1
  echo "$pid"
}

# True when some other cargo (not started here) holds the target folder's build lock.
foreign_build() {
  local lock="$NODE_TARGET/release/.cargo-lock"
  [ -f "$lock" ] && ! flock -n -s "$lock" true 2>/dev/null
}

# "compiled/total" from cargo's progress lines, else the count of crates compiled so far.
progress() {
  local counts compiled
  counts="$(tr '\r' '\n' < "$BUILD_LOG" 2>/dev/null | grep -oE 'Building \[[^]]*\] [0-9]+/[0-9]+' \
            | tail -1 | grep -oE '[0-9]+/[0-9]+' || true)"
  if [ -n "$counts" ]; then
    echo "$counts crates"
  else
    compiled="$(grep -c '^ *Compiling ' "$BUILD_LOG" 2>/dev/null || true)"
    echo "${compiled:-0} crates compiled"
  fi
}

elapsed() {
  local start now
  start="$(cat "$BUILD_START" 2>/dev/null || date +%s)"
  now="$(date +%s)"
  printf '%dm%02ds' $(( (now - start) / 60 )) $(( (now - start) % 60 ))
}

version() {
  "$NODE_BIN" --version 2>/dev/null | head -1 || echo "(the binary does not run)"
}

# What the build needs: Debian's protobuf compiler and libclang (rocksdb and libp2p's
# build scripts), and rustup's toolchain (cargo from ~/.cargo/bin).
install_build_deps() {
  local missing=() package
  for package in protobuf-compiler libclang-dev clang; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    dml_log "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -x "$RUSTUP_CARGO" ]; then
    dml_log "installing rustup's stable toolchain into ~/.cargo (rustup.rs)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --profile minimal --default-toolchain stable --no-modify-path >/dev/null
  fi
}

# Waits for the running build (ours: pid given; or a foreign one: no pid), printing progress.
follow() {
  local pid="${1:-}" rc last
  last="$(date +%s)"
  while if [ -n "$pid" ]; then kill -0 "$pid" 2>/dev/null; else foreign_build; fi; do
    if [ $(( $(date +%s) - last )) -ge "$PROGRESS_EVERY" ]; then
      last="$(date +%s)"
      if [ -n "$pid" ]; then
        dml_log "building the node: $(progress), $(elapsed) elapsed (log: $BUILD_LOG)"
      else
        dml_log "another cargo build holds $NODE_TARGET; waiting for it to finish"
      fi
    fi
    sleep 1
  done
  [ -n "$pid" ] || return 0
  rc="$(cat "$BUILD_RC" 2>/dev/null || echo 1)"
  if [ "$rc" != 0 ]; then
    dml_log "the node build failed (exit $rc) after $(elapsed); the log's last lines ($BUILD_LOG):"
    tr '\r' '\n' < "$BUILD_LOG" | grep -v 'Building \[' | tail -25 >&2
    exit 1
  fi
}

build() {
  local detach=0 pid
  case "${1:-}" in
    "") ;;
    --detach) detach=1 ;;
    *) dml_log "error: unknown option for build: $1"; usage ;;
  esac
  mkdir -p "$BUILD_DIR"
  if pid="$(running_build)"; then
    dml_log "a node build is already running (pid $pid); attaching to it"
    [ "$detach" = 1 ] && exit 0
    follow "$pid"
  else
    if foreign_build; then
      # Cargo would only block on the lock: wait for that build, then check freshness.
      [ "$detach" = 1 ] && dml_die "another cargo build holds $NODE_TARGET; try again when it has finished"
      follow ""
    fi
    install_build_deps
    dml_log "building the node into $NODE_TARGET (nice 19; log: $BUILD_LOG)"
    date +%s > "$BUILD_START"
    rm -f "$BUILD_RC"
    # The runner is a shell of its own (so the pid file names it) that records cargo's exit code.
    # The node runs the runtime wasm from the chain spec, so it is built without one.
    (
      cd "$NODE_SRC"
      export PATH="$HOME/.cargo/bin:$PATH" SKIP_WASM_BUILD=1 CARGO_TARGET_DIR="$NODE_TARGET"
      export CARGO_TERM_PROGRESS_WHEN=always CARGO_TERM_PROGRESS_WIDTH=100
      unset RUSTC CARGO
      exec setsid nohup bash -c 'nice -n 19 cargo build --release --locked >"$1" 2>&1; echo $? >"$2"' \
        node-build-runner "$BUILD_LOG" "$BUILD_RC" </dev/null >/dev/null 2>&1
    ) &
    pid=$!
    echo "$pid" > "$BUILD_PID"
    if [ "$detach" = 1 ]; then
      dml_log "started (pid $pid); \`bash scripts/node.sh status\` shows its progress"
      exit 0
    fi
    follow "$pid"
  fi
  [ -x "$NODE_BIN" ] || dml_die "the build finished but $NODE_BIN is missing (log: $BUILD_LOG)"
  dml_log "built in $(elapsed): $NODE_BIN ($(version))"
  echo "$NODE_BIN"
}

path() {
  [ -x "$NODE_BIN" ] || dml_die "the node is not built ($NODE_BIN is missing): run \`bash scripts/node.sh build\` (about 75 min the first time)"
  echo "$NODE_BIN"
}

status() {
  local pid
  if [ -x "$NODE_BIN" ]; then
    echo "built:    yes, $NODE_BIN"
    echo "version:  $(version)"
  else
    echo "built:    no ($NODE_BIN is missing)"
  fi
  if pid="$(running_build)"; then
    echo "building: yes (pid $pid): $(progress), $(elapsed) elapsed, log $BUILD_LOG"
  elif foreign_build; then
    echo "building: another cargo build (not started by this script) holds $NODE_TARGET"
  elif [ -f "$BUILD_RC" ]; then
    echo "building: no; the last build exited with $(cat "$BUILD_RC") (log $BUILD_LOG)"
  else
    echo "building: no"
  fi
}

case "${1:-}" in
  build) shift; [ $# -le 1 ] || usage; build "$@" ;;
  path) [ $# -eq 1 ] || usage; path ;;
  status) [ $# -eq 1 ] || usage; status ;;
  *) usage ;;
esac
