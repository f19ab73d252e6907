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
trap 'kill $SIM 2>/dev/null || true' EXIT

python3 - "$DEMO/users.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
print("\naaj demo — " + d["server"] + "  (source simulator " + d["simulator"] + ")")
print("Demo users (key stores are PKCS#12; the same password opens both of a user's stores):")
for u in d["users"]:
    print(f'  {u["user_type"]:<18} {u["iin"]}  {u["full_name"]:<32} {u["status"]:<8} password {u["password"]}')
p = next(u for u in d["users"] if u["user_type"] == "prosecutor")
print("\nEnter with EDS and send one signed request (in another terminal):")
print(f'  build/src/cli/aaj client request --server {d["server"]} --ca {d["ca"]} \\')
print(f'    --auth-store {p["auth_key_store"]} --sign-store {p["key_store"]} --password {p["password"]} \\')
print('    --resource R01 --ground \'{"type":"criminal_case","number":"251234567890123"}\' \\')
print('    --subject \'{"iin":"860417300015"}\' --purpose "Проверка по уголовному делу"')
print("API: docs/api.md.  Stop with Ctrl-C.\n")
PY

exec "$AAJ" serve --config "$DEMO/aaj.toml"
