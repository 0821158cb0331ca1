#!/usr/bin/env bash
# Builds the storage servers the project talks to: Kubo (IPFS) and MinIO (S3),
# from the Go module proxy into the shared cache. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
command -v go >/dev/null || dml_die "Go is needed to build Kubo and MinIO (apt-get install golang or https://go.dev/dl)"
mkdir -p "$DML_GOBIN"
export GOBIN="$DML_GOBIN" GOFLAGS="-trimpath" GOTOOLCHAIN="$DML_GO_TOOLCHAIN"
stamp() { echo "$DML_GOBIN/.$1-$2"; }
# `go install pkg@version` asks the proxy for the module's version list to look up
# deprecations, which the proxy may refuse; building from a throwaway module that
# requires the exact version needs only that version.
build_tool() {  # build_tool BINARY MODULE VERSION PACKAGE
  local bin=$1 module=$2 version=$3 package=$4 work
  if [ -x "$DML_GOBIN/$bin" ] && [ -e "$(stamp "$bin" "$version")" ]; then return; fi
  dml_log "building $bin ($module $version; a few minutes the first time)"
  work="$(mktemp -d)"
  (cd "$work" && go mod init decentralml-tools >/dev/null 2>&1 \
    && go mod edit -require="$module@$version" \
    && GOFLAGS=-mod=mod go build -o "$DML_GOBIN/$bin" "$package")
  rm -rf "$work"
  touch "$(stamp "$bin" "$version")"
}
build_tool ipfs github.com/ipfs/kubo "$DML_KUBO_VERSION" github.com/ipfs/kubo/cmd/ipfs
build_tool minio github.com/minio/minio "$DML_MINIO_VERSION" github.com/minio/minio
dml_log "storage daemons ready in $DML_GOBIN"
