#!/usr/bin/env bash
# Quick start: installs what is missing, builds, creates a demo installation in demo/ (once) and
# runs the source simulator, the log's witness and the server until Ctrl-C.
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
WITNESS=""
SERVE=""
# Ctrl-C or a TERM to this script stops every process; none is left behind.
trap 'kill $SIM $WITNESS $SERVE 2>/dev/null || true; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

# The witness co-signs the log's heads (in production: the prosecutor's office runs it).
if [ -f "$DEMO/witness/witness.toml" ]; then
  "$AAJ" witness --config "$DEMO/witness/witness.toml" &
  WITNESS=$!
fi

"$AAJ" demo info "$DEMO"
echo "Stop with Ctrl-C."

"$AAJ" serve --config "$DEMO/aaj.toml" &
SERVE=$!
wait $SERVE
