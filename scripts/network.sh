#!/usr/bin/env bash
# A local network of validators of our own node (Aura blocks, GRANDPA finality) on 127.0.0.1:
# four by default, Alice, Bob and Charlie (the committed chain spec's authorities) and Dave.
# GRANDPA finalizes with more than two thirds of the votes, so three validators stop finalizing
# when any one is down; with four, one may be down. The nodes run the committed chain spec with
# its Aura and GRANDPA authorities set to these validators' dev keys (a copy in the run folder;
# everything else as committed).
#   scripts/network.sh up [--keep] [--block-log]  start them (a fresh chain unless --keep) and
#                                                 wait until blocks are produced and finalized
#   scripts/network.sh down                       stop the nodes this script started
#   scripts/network.sh status [--block-log]       per node: running, peers, best, finalized, pid, log
#   scripts/network.sh stop-node NAME             stop one validator (alice, bob or charlie)
#   scripts/network.sh start-node NAME            start it again on its kept data: it catches up
# NAME: alice, bob, charlie, dave (eve, ferdie with more validators). --block-log also prints
# each node's last block lines (imported, finalized).
# Settings: DECENTRALML_NETWORK_VALIDATORS (4; 1 to 6), DECENTRALML_NETWORK_RPC_PORT (9944:
# Alice, +1 Bob, +2 Charlie, +3 Dave; HTTP and WebSocket), DECENTRALML_NETWORK_P2P_PORT (30333,
# +1...), DECENTRALML_NETWORK_DIR (run folder, default $DECENTRALML_CACHE/network: the chain
# spec, <name>/data, <name>/node.log, <name>/node.pid),
# DECENTRALML_NETWORK_CHAIN_SPEC (default substrate_client/runtime/chain_spec_raw.json),
# DECENTRALML_NETWORK_TIMEOUT (seconds to wait for finality, 180), DECENTRALML_NODE_BIN
# (default: the binary `scripts/node.sh build` made).
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -x "$DML_VENV/bin/python" ] || bash "$DML_ROOT/scripts/install_python.sh"
PY="$DML_VENV/bin/python"

ALL_NAMES=(alice bob charlie dave eve ferdie)
RPC_BASE="${DECENTRALML_NETWORK_RPC_PORT:-9944}"
P2P_BASE="${DECENTRALML_NETWORK_P2P_PORT:-30333}"
NET_DIR="${DECENTRALML_NETWORK_DIR:-$DML_CACHE/network}"
SPEC="${DECENTRALML_NETWORK_CHAIN_SPEC:-$DML_ROOT/substrate_client/runtime/chain_spec_raw.json}"
TIMEOUT="${DECENTRALML_NETWORK_TIMEOUT:-180}"
STOP_TIMEOUT=30
NET_SPEC="$NET_DIR/chain_spec_raw.json"
# How many validators: the setting for a fresh `up`, else what the last `up` recorded.
if [ "${1:-}" = up ] && [[ " $* " != *" --keep "* ]] || [ ! -f "$NET_DIR/validators" ]; then
  VALIDATORS="${DECENTRALML_NETWORK_VALIDATORS:-4}"
else
  VALIDATORS="$(cat "$NET_DIR/validators")"
fi

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

for value in "$RPC_BASE" "$P2P_BASE" "$TIMEOUT" "$VALIDATORS"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { dml_log "error: not a number: $value (DECENTRALML_NETWORK_*)"; exit 2; }
done
[ "$VALIDATORS" -ge 1 ] && [ "$VALIDATORS" -le "${#ALL_NAMES[@]}" ] \
  || { dml_log "error: DECENTRALML_NETWORK_VALIDATORS must be 1 to ${#ALL_NAMES[@]}, not $VALIDATORS"; exit 2; }
NAMES=("${ALL_NAMES[@]:0:$VALIDATORS}")

index_of() {
  local i
  for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$1" ] && { echo "$i"; return; }; done
  dml_log "error: no validator named '$1' (this network's: ${NAMES[*]})"
  exit 2
}
rpc_port() { echo $(( RPC_BASE + $(index_of "$1") )); }
p2p_port() { echo $(( P2P_BASE + $(index_of "$1") )); }
node_dir() { echo "$NET_DIR/$1"; }
node_log() { echo "$NET_DIR/$1/node.log"; }
pid_file() { echo "$NET_DIR/$1/node.pid"; }

# The pid of NAME's node if this script started it and it still runs: the pid file is
# checked against the process's command line, so a reused pid is never signalled.
node_pid() {
  local file pid
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$(node_dir "$1")/data" || return 1
  echo "$pid"
}

node_bin() {
  if [ -n "${DECENTRALML_NODE_BIN:-}" ]; then
    [ -x "$DECENTRALML_NODE_BIN" ] || dml_die "DECENTRALML_NODE_BIN=$DECENTRALML_NODE_BIN is not an executable"
    echo "$DECENTRALML_NODE_BIN"
  else
    bash "$DML_ROOT/scripts/node.sh" path
  fi
}

# Fixed node keys (the network is local and public by design), so every peer id is known
# before any node starts: validator i has the ed25519 secret 0x00..0(i+1).
node_key() { printf '%064x' $(( $(index_of "$1") + 1 )); }

# The libp2p peer id of an ed25519 node key: base58 of the identity multihash of the
# protobuf-encoded public key (what the node prints as "Local node identity").
peer_id() {
  "$PY" - "$1" <<'PY'
import sys
from nacl.signing import SigningKey
public = bytes(SigningKey(bytes.fromhex(sys.argv[1])).verify_key)
raw = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + public
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
number, text = int.from_bytes(raw, "big"), ""
while number:
    number, digit = divmod(number, 58)
    text = alphabet[digit] + text
print("1" * (len(raw) - len(raw.lstrip(b"\0"))) + text)
PY
}

# The chain spec the network runs: SPEC with Aura's and GRANDPA's authorities set to the
# dev keys (//Alice, //Bob...) of the validators named, in that order (sr25519 for Aura,
# ed25519 with weight 1 for GRANDPA), written to NET_SPEC. The rest of genesis is untouched.
write_spec() {
  "$PY" - "$SPEC" "$NET_SPEC" "$@" <<'PY'
import hashlib, json, sys
import xxhash
from bip39 import bip39_to_mini_secret
from nacl.signing import SigningKey
from substrateinterface import Keypair

source, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

def compact(count: int) -> bytes:
    return bytes([count << 2])  # SCALE's compact encoding of a number under 64

def scale_text(data: bytes) -> bytes:
    return compact(len(data)) + data

def twox128(text):
    return b"".join(xxhash.xxh64(text.encode(), seed=seed).intdigest().to_bytes(8, "little")
                    for seed in (0, 1))

def key(pallet, item):
    return "0x" + (twox128(pallet) + twox128(item)).hex()

def sr25519(name):
    return Keypair.create_from_uri(f"//{name.capitalize()}").public_key

def ed25519(name):
    # substrate-interface derives no ed25519 paths: the hard junction as the node does it.
    seed = bytes(bip39_to_mini_secret(DEV_PHRASE, ""))
    chain_code = scale_text(name.capitalize().encode()).ljust(32, b"\0")
    derived = hashlib.blake2b(scale_text(b"Ed25519HDKD") + seed + chain_code, digest_size=32)
    return bytes(SigningKey(derived.digest()).verify_key)

def authorities(value, size):
    raw = bytes.fromhex(value[2:])
    return [raw[1 + i * size:1 + i * size + 32] for i in range(raw[0] >> 2)]

spec = json.load(open(source))
top = spec["genesis"]["raw"]["top"]
aura, grandpa = key("Aura", "Authorities"), key("Grandpa", "Authorities")
if aura not in top or grandpa not in top:
    sys.exit(f"{source} has no Aura/GRANDPA authorities: not a chain spec our node can run")
wanted = {aura: [sr25519(n) for n in names], grandpa: [ed25519(n) for n in names]}
for item, size in ((aura, 32), (grandpa, 40)):
    for have, want in zip(authorities(top[item], size), wanted[item]):
        if have != want:
            sys.exit(f"{source}: its validators are not the dev accounts //Alice, //Bob...")
top[aura] = "0x" + (compact(len(names)) + b"".join(wanted[aura])).hex()
top[grandpa] = "0x" + (compact(len(names))
                       + b"".join(k + (1).to_bytes(8, "little") for k in wanted[grandpa])).hex()
with open(target + ".tmp", "w") as out:
    json.dump(spec, out)
PY
  mv "$NET_SPEC.tmp" "$NET_SPEC"
}

# One line per RPC port given: "peers best finalized", or "down" when it does not answer.
rpc_state() {
  "$PY" - "$@" <<'PY'
import json, sys, urllib.request

def call(port, method, params=()):
    body = json.dumps({"id": 1, "jsonrpc": "2.0", "method": method, "params": list(params)})
    request = urllib.request.Request(f"http://127.0.0.1:{port}", body.encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3) as response:
        return json.loads(response.read(1 << 20))["result"]

for port in sys.argv[1:]:
    try:
        peers = call(port, "system_health")["peers"]
        best = int(call(port, "chain_getHeader")["number"], 16)
        finalized = int(call(port, "chain_getHeader", [call(port, "chain_getFinalizedHead")])["number"], 16)
        print(peers, best, finalized)
    except Exception:
        print("down")
PY
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
  local name
  for name in "$@"; do
    dml_log "last lines of $(node_log "$name"):"
    sed 's/\x1b\[[0-9;]*m//g' "$(node_log "$name")" 2>/dev/null | tail -15 >&2 || true
  done
}

block_log() {
  local name
  for name in "${NAMES[@]}"; do
    echo "-- $name ($(node_log "$name"))"
    sed 's/\x1b\[[0-9;]*m//g' "$(node_log "$name")" 2>/dev/null \
      | grep -E 'Imported #|Idle \(|Syncing|finalized #' | tail -5 || true
  done
}

check_ports() {
  local name port
  for name in "$@"; do
    for port in "$(rpc_port "$name")" "$(p2p_port "$name")"; do
      port_in_use "$port" && dml_die "port $port (for $name) is taken by another program; stop it or set DECENTRALML_NETWORK_RPC_PORT / DECENTRALML_NETWORK_P2P_PORT"
    done
  done
  return 0
}

start_one() {
  local name="$1" bin="$2" dir other args
  dir="$(node_dir "$name")"
  node_pid "$name" >/dev/null && dml_die "$name is already running (pid $(node_pid "$name"))"
  check_ports "$name"
  mkdir -p "$dir/data"
  (umask 077 && node_key "$name" > "$dir/node-key")
  args=(--chain "$NET_SPEC" --base-path "$dir/data" "--$name" --name "$name"
        --node-key-file "$dir/node-key" --listen-addr "/ip4/127.0.0.1/tcp/$(p2p_port "$name")"
        --rpc-port "$(rpc_port "$name")" --rpc-cors all
        --no-prometheus --no-telemetry --no-mdns
        # A validator left without peers keeps authoring its slots: with two of three down
        # transactions still get into blocks and only finality stalls, which is the fault
        # the network tier tests (without it a lone Aura node waits for the network).
        --force-authoring)
  # Alice is every node's bootnode; each also knows the others, so any one of them
  # restarted on its own finds the rest even while Alice is down.
  for other in "${NAMES[@]}"; do
    [ "$other" = "$name" ] && continue
    args+=(--bootnodes "/ip4/127.0.0.1/tcp/$(p2p_port "$other")/p2p/$(peer_id "$(node_key "$other")")")
  done
  echo "=== $(date -u '+%F %T') starting $name" >> "$(node_log "$name")"
  # A session of its own: a Ctrl-C in the terminal that ran `up` does not reach the nodes.
  setsid nohup "$bin" "${args[@]}" >> "$(node_log "$name")" 2>&1 < /dev/null &
  echo $! > "$(pid_file "$name")"
  dml_log "started $name (pid $!, RPC ws://127.0.0.1:$(rpc_port "$name"), log $(node_log "$name"))"
}

stop_one() {
  local name="$1" pid waited=0
  pid="$(node_pid "$name")" || { rm -f "$(pid_file "$name")"; return 0; }
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$STOP_TIMEOUT" ]; then
      dml_log "$name (pid $pid) did not stop in ${STOP_TIMEOUT}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 1
    waited=$(( waited + 1 ))
  done
  rm -f "$(pid_file "$name")"
  dml_log "stopped $name (pid $pid)"
}

# Waits until the named nodes answer, each has `peers` peers, and the best and finalized
# heads have both advanced past what was first seen. Prints progress; on timeout or a
# node's exit it prints the logs' last lines and fails.
wait_ready() {
  local peers="$1" start now line state ok best fin first_best="" first_fin="" last="" name
  local first_final_at=""
  shift
  start="$(date +%s)"
  while :; do
    now="$(date +%s)"
    for name in "$@"; do
      node_pid "$name" >/dev/null || { log_tail "$name"; dml_log "error: $name exited while starting"; return 1; }
    done
    ok=1 best=-1 fin=-1 line=""
    local ports=()
    for name in "$@"; do ports+=("$(rpc_port "$name")"); done
    local i=0
    while read -r state; do
      name="${*:$(( i + 1 )):1}"
      i=$(( i + 1 ))
      if [ "$state" = down ]; then
        ok=0 line+="${line:+; }$name: starting"
        continue
      fi
      read -r p b f <<< "$state"
      line+="${line:+; }$name: $p peers, best #$b, finalized #$f"
      [ "$p" -ge "$peers" ] || ok=0
      [ "$b" -gt "$best" ] && best="$b"
      [ "$f" -gt "$fin" ] && fin="$f"
    done < <(rpc_state "${ports[@]}")
    if [ "$fin" -ge 0 ] && [ -z "$first_best" ]; then first_best="$best" first_fin="$fin"; fi
    if [ -z "$first_final_at" ] && [ "$fin" -ge 1 ]; then
      first_final_at=$(( now - start ))
      dml_log "first finalized block after ${first_final_at}s"
    fi
    [ "$line" != "$last" ] && dml_log "$line"
    last="$line"
    if [ "$ok" = 1 ] && [ -n "$first_best" ] && [ "$best" -gt "$first_best" ] && [ "$fin" -gt "$first_fin" ]; then
      dml_log "blocks produced and finalized after $(( now - start ))s"
      return 0
    fi
    if [ $(( now - start )) -ge "$TIMEOUT" ]; then
      log_tail "$@"
      dml_log "error: no finalized progress with every node at $peers peers after ${TIMEOUT}s ($line)"
      return 1
    fi
    sleep 2
  done
}

up() {
  local keep=0 blocks=0 bin name running=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --keep) keep=1 ;;
      --block-log) blocks=1 ;;
      *) dml_log "error: unknown option for up: $1"; usage ;;
    esac
    shift
  done
  for name in "${ALL_NAMES[@]}"; do node_pid "$name" >/dev/null && running+=("$name"); done
  if [ "${running[*]}" = "${NAMES[*]}" ]; then
    dml_log "the network is already running (\`bash scripts/network.sh status\`)"
  elif [ "${#running[@]}" -gt 0 ]; then
    dml_die "part of the network is running (${running[*]}): \`bash scripts/network.sh start-node NAME\` for the others, or \`down\` first"
  else
    bin="$(node_bin)" || dml_die "the network needs our node"
    check_ports "${NAMES[@]}"   # before any node starts, so none is left running
    if [ "$keep" = 0 ]; then
      [ -f "$SPEC" ] || dml_die "no chain spec at $SPEC"
      dml_log "a fresh chain: removing the old data under $NET_DIR"
      for name in "${ALL_NAMES[@]}"; do rm -rf "$(node_dir "$name")"; done
      mkdir -p "$NET_DIR"
      write_spec "${NAMES[@]}"
      echo "$VALIDATORS" > "$NET_DIR/validators"
    else
      [ -f "$NET_SPEC" ] || dml_die "no network to keep under $NET_DIR: \`bash scripts/network.sh up\` without --keep"
    fi
    dml_log "starting ${NAMES[*]} ($("$bin" --version 2>/dev/null | head -1); $SPEC with these validators: $NET_SPEC)"
    for name in "${NAMES[@]}"; do start_one "$name" "$bin"; done
    # Nothing is left half-started: a network that does not finalize is stopped again.
    wait_ready $(( ${#NAMES[@]} - 1 )) "${NAMES[@]}" || { down; dml_die "the network did not start (logs above; data kept under $NET_DIR)"; }
  fi
  [ "$blocks" = 1 ] && block_log
  echo "export DECENTRALML_URL=ws://127.0.0.1:$RPC_BASE"
}

down() {
  local name
  for name in "${ALL_NAMES[@]}"; do stop_one "$name"; done
}

status() {
  local blocks=0 name state pid all=0 p b f
  case "${1:-}" in
    "") ;;
    --block-log) blocks=1 ;;
    *) dml_log "error: unknown option for status: $1"; usage ;;
  esac
  for name in "${NAMES[@]}"; do
    if pid="$(node_pid "$name")"; then
      state="$(rpc_state "$(rpc_port "$name")")"
      if [ "$state" = down ]; then
        printf '%-8s running (pid %s), RPC not answering yet  ws://127.0.0.1:%s  log %s\n' \
          "$name" "$pid" "$(rpc_port "$name")" "$(node_log "$name")"
      else
        read -r p b f <<< "$state"
        printf '%-8s running (pid %s)  %s peers  best #%s  finalized #%s  ws://127.0.0.1:%s  log %s\n' \
          "$name" "$pid" "$p" "$b" "$f" "$(rpc_port "$name")" "$(node_log "$name")"
      fi
      all=$(( all + 1 ))
    else
      printf '%-8s stopped  log %s\n' "$name" "$(node_log "$name")"
    fi
  done
  [ "$blocks" = 1 ] && block_log
  [ "$all" = "${#NAMES[@]}" ]
}

start_node() {
  local name="$1" others=() other
  index_of "$name" >/dev/null
  [ -d "$(node_dir "$name")/data" ] || dml_die "$name has no data under $(node_dir "$name"): \`bash scripts/network.sh up\` first"
  start_one "$name" "$(node_bin)"
  for other in "${NAMES[@]}"; do node_pid "$other" >/dev/null && others+=("$other"); done
  # Back with every other running node as a peer, and following the chain.
  wait_ready $(( ${#others[@]} - 1 )) "$name" || { stop_one "$name"; dml_die "$name did not rejoin the network (log above)"; }
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) [ $# -eq 1 ] || usage; down ;;
  status) shift; [ $# -le 1 ] || usage; status "$@" ;;
  stop-node) [ $# -eq 2 ] || usage; index_of "$2" >/dev/null; stop_one "$2" ;;
  start-node) [ $# -eq 2 ] || usage; start_node "$2" ;;
  *) usage ;;
esac
