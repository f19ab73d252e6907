#!/usr/bin/env bash
# Profiles `aaj serve` under the pipeline benchmark's load: runs one long pipeline round and
# records the server with perf (DWARF call graphs) while the load runs. The server's threads are
# named (aaj-io-N, aaj-journal, aaj-archive), so `perf report --comm aaj-journal` and
# `perf script -F comm,tid,ip,sym` separate them. Needs perf (apt: linux-perf) and an idle box.
#
# Usage: bench/profile_pipeline.sh [OUT.data] [SECONDS] [-- extra pipeline_bench arguments]
#   e.g. bench/profile_pipeline.sh /tmp/aaj.perf 5 -- --aaj /other/build/src/cli/aaj
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/aaj-pipeline.perf}"
SECONDS_TO_RECORD="${2:-5}"
shift $(( $# >= 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
BENCH="${AAJ_BUILD_DIR:-build}/bench/pipeline_bench"
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "$BENCH is not built (scripts/build.sh)" >&2; exit 1; }

LOG="$(mktemp)"
trap 'rm -f "$LOG" "$LOG.out"' EXIT
# 30000 requests in one round: long enough for the recording to fall inside the load.
"$BENCH" --rounds 1 --requests 30000 "$@" >"$LOG.out" 2>"$LOG" &
BENCH_PID=$!
for _ in $(seq 1 1200); do
  grep -q "pipeline load starting" "$LOG" 2>/dev/null && break
  kill -0 "$BENCH_PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
SERVER="$(grep -o 'server pid [0-9]*' "$LOG" | head -1 | awk '{print $3}')"
[ -n "$SERVER" ] || { echo "the benchmark did not report the server's pid" >&2; exit 1; }
echo "recording aaj serve (pid $SERVER) for ${SECONDS_TO_RECORD} s into $OUT" >&2
perf record -F 1499 --call-graph dwarf,12288 -o "$OUT" -p "$SERVER" -- sleep "$SECONDS_TO_RECORD" \
  >/dev/null 2>&1
wait "$BENCH_PID"
grep -v '^{' "$LOG.out"
rm -f "$LOG.out"
echo "perf report -i $OUT --no-children --sort sym   (the recording slows the round it samples)" >&2
