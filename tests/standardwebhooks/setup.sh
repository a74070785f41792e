#!/usr/bin/env bash
# Installs the official Standard Webhooks verifiers (Python and JavaScript) that the tests in
# tests/api/standard_signing.rs run against real deliveries, into target/standardwebhooks.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../.." && pwd)/target/standardwebhooks"
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ] || ! "$dir/venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q 'standardwebhooks==1.3.0'
fi
if [ ! -d "$dir/node_modules/standardwebhooks" ]; then
  (cd "$dir" && npm install --silent --no-audit --no-fund 'standardwebhooks@1.3.0' >/dev/null)
fi
echo "Standard Webhooks verifiers in $dir"
