#!/usr/bin/env bash
# Quick start: installs what is missing, builds, creates a demo installation in demo/ (once) and
# runs the source simulator and the server until Ctrl-C.
#   AAJ_LISTEN=127.0.0.1:8443 (default)   AAJ_DEMO_DIR=demo (default)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
AAJ=build/src/cli/aaj
DEMO="${AAJ_DEMO_DIR:-demo}"
LISTEN="${AAJ_LISTEN:-127.0.0.1:8443}"

if [ ! -f "$DEMO/aaj.toml" ]; then
  "$AAJ" demo init "$DEMO" --listen "$LISTEN"
fi
# The demo CRL lives a week; issue a fresh one at every start so revocation checks never go stale.
"$AAJ" demo refresh-crl "$DEMO" >/dev/null

"$AAJ" sourcesim --config "$DEMO/aaj.toml" &
SIM=$!
SERVE=""
# Ctrl-C or a TERM to this script stops both processes; neither is left behind.
trap 'kill $SIM $SERVE 2>/dev/null || true; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

"$AAJ" demo info "$DEMO"
echo "Stop with Ctrl-C."

"$AAJ" serve --config "$DEMO/aaj.toml" &
SERVE=$!
wait $SERVE
