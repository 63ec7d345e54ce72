#!/usr/bin/env bash
# THE demo: set everything up, then
#   1. start the Pendo simulator (seeded) on a free loopback port;
#   2. `meltano run tap-pendo target-duckdb` into .demo/pendo.duckdb and print rows per table;
#   3. write visitor updates and track events as JSONL, send them through target-pendo
#      (`meltano run tap-jsonl-visitors target-pendo tap-jsonl-track target-pendo`), print
#      the target's summary and what the simulator now holds;
#   4. stop the simulator.
# Env: DEMO_SEED (default 7).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

bash scripts/setup.sh

export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
DEMO=.demo
mkdir -p "$DEMO"

say "Starting the Pendo simulator"
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM
.venv/bin/pendo-sim --port 0 --seed "${DEMO_SEED:-7}" >"$DEMO/sim.out" 2>"$DEMO/sim.log" &
sim_pid=$!
SIM_URL=""
for _ in $(seq 1 300); do
    SIM_URL="$(sed -n 's/^PENDO_SIM_URL=//p' "$DEMO/sim.out" | head -n 1)"
    [[ -n "$SIM_URL" ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$DEMO/sim.log" >&2; echo "demo: pendo-sim exited" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$SIM_URL" ]] || { echo "demo: pendo-sim printed no PENDO_SIM_URL" >&2; exit 1; }
echo "simulator at $SIM_URL (pid $sim_pid)"

# The simulator's default keys: a read-write integration key and the track event secret.
SIM_KEY="${PENDO_SIM_KEY:-sim-key-rw}"
SIM_TRACK_SECRET="${PENDO_SIM_TRACK_SECRET:-track-secret-123}"

export TAP_PENDO_API_URL="$SIM_URL"
export TAP_PENDO_INTEGRATION_KEY="$SIM_KEY"
# The simulator's objects change from February 2026 on and its events fall on 2026-03-06..08:
# this range holds all of them, so every table fills and the event windows stay few.
export TAP_PENDO_START_DATE="${DEMO_START_DATE:-2026-01-01T00:00:00Z}"
export TAP_PENDO_END_DATE="${DEMO_END_DATE:-2026-03-12T00:00:00Z}"
export TARGET_DUCKDB_PATH="$PWD/$DEMO/pendo.duckdb"

say "meltano run tap-pendo target-duckdb  ->  $DEMO/pendo.duckdb"
rm -f "$DEMO/pendo.duckdb"
# --full-refresh: the demo starts from an empty store, so it ignores earlier runs' state.
rc=0
.venv-meltano/bin/meltano --log-level=info run --full-refresh tap-pendo target-duckdb \
    >"$DEMO/extract.log" 2>&1 || rc=$?
if [[ $rc != 0 ]]; then
    grep -E 'Traceback|Error|error' "$DEMO/extract.log" | tail -n 15 >&2
    echo "demo: extract failed (full log: $DEMO/extract.log)" >&2
    exit "$rc"
fi

say "Rows per table in $DEMO/pendo.duckdb"
.meltano/loaders/target-duckdb/venv/bin/python - "$DEMO/pendo.duckdb" <<'EOF'
import sys
import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
(catalog,) = con.execute("SELECT current_database()").fetchone()
# Fully qualified names: the catalog (the file's name) and the target's schema are both "pendo".
tables = con.execute(
    "SELECT table_schema, table_name FROM information_schema.tables"
    " WHERE table_schema NOT IN ('information_schema', 'pg_catalog') ORDER BY 1, 2"
).fetchall()
if not tables:
    sys.exit("demo: no tables were loaded")
width = max(len(f"{s}.{t}") for s, t in tables)
for schema, table in tables:
    (n,) = con.execute(f'SELECT count(*) FROM "{catalog}"."{schema}"."{table}"').fetchone()
    print(f"  {schema + '.' + table:<{width}}  {n:>8,}")
EOF

say "Writing visitor updates and track events to $DEMO/*.jsonl"
# The key goes through the environment: a command line is visible to every user (`ps`).
PENDO_DEMO_KEY="$SIM_KEY" .venv/bin/python - "$SIM_URL" "$DEMO" <<'EOF'
import json
import os
import sys
import time

import requests

url, out = sys.argv[1:3]
key = os.environ["PENDO_DEMO_KEY"]
# Ask the simulator (through Pendo's own aggregation API) for a few real visitors.
resp = requests.post(
    f"{url}/api/v1/aggregation",
    headers={"x-pendo-integration-key": key, "content-type": "application/json"},
    json={
        "response": {"mimeType": "application/json"},
        "request": {"pipeline": [{"source": {"visitors": None}}, {"identified": "visitorId"},
                                 {"sort": ["visitorId"]}, {"limit": 5}]},
    },
    timeout=30,
)
resp.raise_for_status()
visitors = resp.json()["results"]
now_ms = int(time.time() * 1000)
with open(f"{out}/visitor_updates.jsonl", "w") as f:
    for i, v in enumerate(visitors):
        row = {"visitorId": v["visitorId"], "plan": ["free", "pro", "enterprise"][i % 3],
               "seats": 5 + i, "isbeta": i % 2 == 0}
        f.write(json.dumps(row) + "\n")
with open(f"{out}/track_events.jsonl", "w") as f:
    for i, v in enumerate(visitors[:3]):
        account = (v.get("metadata", {}).get("auto", {}) or {}).get("accountid")
        row = {"event": "Demo Report Exported", "visitorId": v["visitorId"], "accountId": account,
               "timestamp": now_ms - i * 1000, "properties": {"format": "csv", "rows": 100 * (i + 1)},
               "context": {}}
        f.write(json.dumps(row) + "\n")
print(f"  {len(visitors)} visitor updates, {min(3, len(visitors))} track events")
EOF

say "meltano run tap-jsonl-visitors target-pendo tap-jsonl-track target-pendo"
export TARGET_PENDO_API_URL="$SIM_URL"
export TARGET_PENDO_TRACK_URL="$SIM_URL/data/track"
export TARGET_PENDO_INTEGRATION_KEY="$SIM_KEY"
export TARGET_PENDO_TRACK_EVENT_SECRET="$SIM_TRACK_SECRET"
export TARGET_PENDO_DEAD_LETTER_PATH="$PWD/$DEMO/dead_letter.jsonl"
# The JSONL taps keep per-file state; --full-refresh re-sends the files just written.
rc=0
.venv-meltano/bin/meltano --log-level=info run --full-refresh \
    tap-jsonl-visitors target-pendo tap-jsonl-track target-pendo >"$DEMO/writeback.log" 2>&1 || rc=$?
if [[ $rc != 0 ]]; then
    tail -n 40 "$DEMO/writeback.log" >&2
    echo "demo: write-back failed (full log: $DEMO/writeback.log)" >&2
    exit "$rc"
fi

say "target-pendo summary"
# The summary tables, without Meltano's timestamp and plugin-name prefix.
awk '/target-pendo target-pendo summary/ {show = 1; next}
     show && /target-pendo / {
         line = $0; sub(/^.*target-pendo /, "", line)
         if (line !~ /^Stream summary/) print "  " line
         if (line ~ /^HTTP: /) {show = 0; print ""}
     }' "$DEMO/writeback.log" || true

say "What the simulator now holds"
PENDO_DEMO_KEY="$SIM_KEY" .venv/bin/python - "$SIM_URL" "$DEMO" <<'EOF'
import json
import os
import sys
from urllib.parse import quote

import requests

url, out = sys.argv[1:3]
key = os.environ["PENDO_DEMO_KEY"]
h = {"x-pendo-integration-key": key}
with open(f"{out}/visitor_updates.jsonl") as f:
    for line in f:
        row = json.loads(line)
        vid = row["visitorId"]
        got = {field: requests.get(f"{url}/api/v1/metadata/visitor/custom/value/{quote(vid, safe='')}/{field}",
                                   headers=h, timeout=10).json()
               for field in ("plan", "seats", "isbeta")}
        print(f"  visitor {vid}: custom {got}")
EOF
echo
echo "Done. Store: $DEMO/pendo.duckdb; logs: $DEMO/*.log"
