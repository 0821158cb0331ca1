#!/usr/bin/env bash
# Starts and stops the storage daemons for the demo: Kubo (IPFS, offline) and MinIO (S3).
#
#   scripts/storage.sh up       start both in the background (a second `up` starts nothing new)
#   scripts/storage.sh down     stop the ones this script started
#   scripts/storage.sh status   say what runs where
#   scripts/storage.sh env      print the exports the client needs: eval "$(scripts/storage.sh env)"
#
# Data, logs and pid files live under ${DECENTRALML_RUN_DIR:-~/.cache/decentralml/run}.
# Everything listens on 127.0.0.1 only. Ports: DECENTRALML_IPFS_PORT (API, 5001),
# DECENTRALML_IPFS_GATEWAY_PORT (8180), DECENTRALML_S3_PORT (9000), DECENTRALML_S3_CONSOLE_PORT (9001).
# MinIO's credentials are made once (from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY if set,
# else random) and kept in $RUN/minio/credentials, readable only by you.
set -euo pipefail
source "$(dirname "$0")/env.sh"

IPFS_PORT="${DECENTRALML_IPFS_PORT:-5001}"
IPFS_GATEWAY_PORT="${DECENTRALML_IPFS_GATEWAY_PORT:-8180}"
S3_PORT="${DECENTRALML_S3_PORT:-9000}"
S3_CONSOLE_PORT="${DECENTRALML_S3_CONSOLE_PORT:-9001}"
HOST=127.0.0.1
LOGS="$DML_RUN/logs"
IPFS_REPO="$DML_RUN/ipfs"
MINIO_DIR="$DML_RUN/minio"
CREDENTIALS="$MINIO_DIR/credentials"
READY_TIMEOUT="${DECENTRALML_STORAGE_TIMEOUT:-60}"

binary() {  # binary NAME: the built daemon, else one on PATH
  if [ -x "$DML_GOBIN/$1" ]; then echo "$DML_GOBIN/$1"; return; fi
  command -v "$1" 2>/dev/null && return
  dml_die "the \`$1\` binary is missing (not in $DML_GOBIN nor on PATH); build it with scripts/install_storage_daemons.sh"
}

pid_of() {  # pid_of NAME: the pid of our running daemon NAME, or nothing
  local file="$DML_RUN/$1.pid" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  # A stale pid may have been reused by another program: check it is ours.
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"; then
    echo "$pid"
  fi
}

port_taken() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

wait_ready() {  # wait_ready NAME PID URL CURL_ARGS...
  local name=$1 pid=$2 url=$3 deadline=$((SECONDS + READY_TIMEOUT))
  shift 3
  until curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      rm -f "$DML_RUN/$name.pid"
      dml_die "$name exited during start-up; its log is $LOGS/$name.log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      dml_die "$name did not answer at $url within ${READY_TIMEOUT}s (pid $pid still running; \`$0 down\` stops it)"
    fi
    sleep 0.3
  done
}

start() {  # start NAME COMMAND...: run detached in the background, log to $LOGS/NAME.log, record the pid
  local name=$1
  shift
  setsid nohup "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$DML_RUN/$name.pid"
}

ipfs_up() {
  local pid ipfs
  pid="$(pid_of kubo 'ipfs daemon')"
  if [ -n "$pid" ]; then dml_log "kubo already running (pid $pid), API http://$HOST:$IPFS_PORT"; return; fi
  port_taken "$IPFS_PORT" && dml_die "port $IPFS_PORT is taken by another program; set DECENTRALML_IPFS_PORT"
  ipfs="$(binary ipfs)"
  export IPFS_PATH="$IPFS_REPO" IPFS_TELEMETRY=off
  if [ ! -f "$IPFS_REPO/config" ]; then
    dml_log "creating the IPFS repository in $IPFS_REPO"
    "$ipfs" init --empty-repo >>"$LOGS/kubo.log" 2>&1 || dml_die "ipfs init failed; see $LOGS/kubo.log"
  fi
  # Local only: API, gateway and swarm on 127.0.0.1; no bootstrap peers, LAN discovery,
  # or remote defaults (AutoConf fetches them from conf.ipfs-mainnet.org, even offline).
  "$ipfs" config Addresses.API "/ip4/$HOST/tcp/$IPFS_PORT"
  "$ipfs" config Addresses.Gateway "/ip4/$HOST/tcp/$IPFS_GATEWAY_PORT"
  "$ipfs" config --json Addresses.Swarm "[\"/ip4/$HOST/tcp/0\"]"
  "$ipfs" config --json Discovery.MDNS.Enabled false
  "$ipfs" config --json AutoConf.Enabled false
  "$ipfs" config --json Bootstrap '[]'
  "$ipfs" config --json DNS.Resolvers '{}'
  "$ipfs" config --json Routing.DelegatedRouters '[]'
  "$ipfs" config --json Ipns.DelegatedPublishers '[]'
  start kubo "$ipfs" daemon --offline
  wait_ready kubo "$(cat "$DML_RUN/kubo.pid")" "http://$HOST:$IPFS_PORT/api/v0/version" -X POST
  dml_log "kubo up (pid $(cat "$DML_RUN/kubo.pid")), API http://$HOST:$IPFS_PORT"
}

minio_credentials() {
  if [ ! -f "$CREDENTIALS" ]; then
    local user="${AWS_ACCESS_KEY_ID:-decentralml}" secret="${AWS_SECRET_ACCESS_KEY:-}"
    [ -n "$secret" ] || secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    (umask 077 && printf 'MINIO_ROOT_USER=%s\nMINIO_ROOT_PASSWORD=%s\n' "$user" "$secret" >"$CREDENTIALS")
  fi
  # shellcheck disable=SC1090
  source "$CREDENTIALS"
  export MINIO_ROOT_USER MINIO_ROOT_PASSWORD
}

minio_up() {
  local pid minio
  pid="$(pid_of minio 'minio server')"
  if [ -n "$pid" ]; then dml_log "minio already running (pid $pid), S3 http://$HOST:$S3_PORT"; return; fi
  port_taken "$S3_PORT" && dml_die "port $S3_PORT is taken by another program; set DECENTRALML_S3_PORT"
  minio="$(binary minio)"
  mkdir -p "$MINIO_DIR/data"
  chmod 700 "$MINIO_DIR"
  minio_credentials
  export MINIO_BROWSER=off MINIO_UPDATE=off
  start minio "$minio" server "$MINIO_DIR/data" --quiet \
    --address "$HOST:$S3_PORT" --console-address "$HOST:$S3_CONSOLE_PORT"
  wait_ready minio "$(cat "$DML_RUN/minio.pid")" "http://$HOST:$S3_PORT/minio/health/ready"
  dml_log "minio up (pid $(cat "$DML_RUN/minio.pid")), S3 http://$HOST:$S3_PORT"
}

stop() {  # stop NAME PATTERN
  local name=$1 pid
  pid="$(pid_of "$name" "$2")"
  if [ -z "$pid" ]; then dml_log "$name not running"; rm -f "$DML_RUN/$name.pid"; return; fi
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
  if kill -0 "$pid" 2>/dev/null; then dml_log "$name (pid $pid) ignored SIGTERM; killing it"; kill -KILL "$pid"; fi
  rm -f "$DML_RUN/$name.pid"
  dml_log "$name stopped"
}

status() {
  local pid rc=0
  pid="$(pid_of kubo 'ipfs daemon')"
  if [ -n "$pid" ]; then echo "kubo:  running (pid $pid), API http://$HOST:$IPFS_PORT"; else echo "kubo:  stopped"; rc=3; fi
  pid="$(pid_of minio 'minio server')"
  if [ -n "$pid" ]; then echo "minio: running (pid $pid), S3 http://$HOST:$S3_PORT"; else echo "minio: stopped"; rc=3; fi
  echo "data and logs: $DML_RUN"
  return $rc
}

print_env() {
  [ -f "$CREDENTIALS" ] || dml_die "no MinIO credentials yet; run \`$0 up\` first"
  # shellcheck disable=SC1090
  source "$CREDENTIALS"
  echo "export DECENTRALML_IPFS_API=http://$HOST:$IPFS_PORT"
  echo "export DECENTRALML_S3_ENDPOINT=http://$HOST:$S3_PORT"
  echo "export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER"
  echo "export AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD"
}

mkdir -p "$DML_RUN" "$LOGS"
case "${1:-}" in
  up)
    ipfs_up
    minio_up
    dml_log "for the client: eval \"\$($0 env)\""
    ;;
  down)
    stop kubo 'ipfs daemon'
    stop minio 'minio server'
    ;;
  status) status ;;
  env) print_env ;;
  *)
    echo "usage: $0 up|down|status|env" >&2
    exit 2
    ;;
esac
