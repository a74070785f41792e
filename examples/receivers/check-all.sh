#!/usr/bin/env bash
# Checks every receiver recipe: its verify function against the Rust signer's fixed vectors, and
# its server over HTTP (smoke_test.py). Runs every check even after one fails, then exits 1 if any
# did.
#
# Usage: bash examples/receivers/check-all.sh [path/to/vectors.json]
# (default signature/vectors.json; pass a tampered copy to see each vector check fail)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VECTORS="$(realpath "${1:-$ROOT/signature/vectors.json}")"
SECRET="whsec_checkall_$(date +%s)"
WORK="$(mktemp -d)"

passed=0
failed=()
skipped=()
server_pid=""

step() { printf '\n==> %s\n' "$*"; }

# Runs one named check; a failure is recorded, not fatal.
check() {
  local name=$1
  shift
  step "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed+=("$name")
    echo "FAILED: $name"
  fi
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a receiver (the command line given) with a fresh secret and port, runs the smoke test
# against it, and stops it; the server's own output is shown only when the test fails.
smoke() {
  local port status
  port=$(free_port)
  BIOTZ_WEBHOOK_SECRET="$SECRET" PORT="$port" "$@" >"$WORK/server.log" 2>&1 &
  server_pid=$!
  status=0
  python3 "$HERE/smoke_test.py" "http://127.0.0.1:$port/webhook" "$SECRET" || status=$?
  stop_server
  if [ "$status" -ne 0 ]; then
    echo "--- the server's output:"
    cat "$WORK/server.log"
  fi
  return "$status"
}

check "python: vectors" python3 "$HERE/python/check_vectors.py" "$VECTORS"
check "python: server" smoke python3 "$HERE/python/receiver.py"

check "node: vectors" node "$HERE/node/check_vectors.js" "$VECTORS"
check "node: server" smoke node "$HERE/node/server.js"

# Go is not on every machine: install it where we may, else say loudly that it was skipped.
ensure_go() {
  command -v go >/dev/null && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    step "installing Go (Debian's golang-go)"
    apt-get install -y -qq golang-go >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq golang-go >/dev/null 2>&1; } ||
      true
  fi
  command -v go >/dev/null
}
in_go() { (cd "$HERE/go" && "$@"); }
go_lint() {
  local unformatted
  unformatted=$(in_go gofmt -l .)
  [ -z "$unformatted" ] || { echo "not gofmt-formatted: $unformatted"; return 1; }
  in_go go vet ./...
}

if ensure_go; then
  check "go: gofmt, vet" go_lint
  check "go: vectors" in_go go run ./cmd/check_vectors "$VECTORS"
  if in_go go build -o "$WORK/go-receiver" ./cmd/receiver; then
    check "go: server" smoke "$WORK/go-receiver"
  else
    failed+=("go: build the receiver")
  fi
else
  echo "SKIPPED: Go not installed"
  skipped+=("Go not installed")
fi

in_root() { (cd "$ROOT" && "$@"); }
rust_target_dir() {
  in_root cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# The vector test alone first, uncaptured, for its summary line; then all the example's tests.
check "rust: vectors" in_root env BIOTZ_VECTORS="$VECTORS" \
  cargo test -q -p biotz-receiver-example --test vectors -- --nocapture
check "rust: cargo test -p biotz-receiver-example" \
  in_root env BIOTZ_VECTORS="$VECTORS" cargo test -q -p biotz-receiver-example
if in_root cargo build -q -p biotz-receiver-example; then
  check "rust: server" smoke "$(rust_target_dir)/debug/biotz-receiver-example"
else
  failed+=("rust: build the receiver")
fi

echo
for name in "${skipped[@]}"; do echo "SKIPPED: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
echo "check-all: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
