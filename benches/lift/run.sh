#!/usr/bin/env bash
# `cartlift lift` with 20 segments on the 1.5 M-entry carts table of the
# paths bench: wall time, peak memory and the -v stage times (read, reduce to
# sufficient statistics, statistics). See benches/README.md.
#
#   benches/lift/run.sh
#
# Environment overrides (all optional):
#   CARTLIFT=target/release/cartlift   binary under test
#   EVENTS=benches/data/events_1p5m.parquet   (made by benches/paths/run.sh)
#   RUNS=3
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

CARTLIFT=${CARTLIFT:-target/release/cartlift}
EVENTS=${EVENTS:-benches/data/events_1p5m.parquet}
FLOW=benches/lift/flow_20_segments.toml
CARTS=benches/data/carts_20seg.parquet
RUNS=${RUNS:-3}
LOGS=benches/data/logs
mkdir -p "$LOGS"

if [ ! -x "$CARTLIFT" ]; then
    echo "error: $CARTLIFT not found; build it first: cargo build --release" >&2
    exit 1
fi
if [ ! -f "$EVENTS" ]; then
    echo "error: $EVENTS not found; run benches/paths/run.sh first (it simulates the log)" >&2
    exit 1
fi
if [ ! -f "$CARTS" ]; then
    echo "== reconstructing $CARTS with $FLOW" >&2
    "$CARTLIFT" -q paths "$EVENTS" --flow "$FLOW" --out "$CARTS" >/dev/null
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run | wall (s) | peak RSS (MB) | read (s) | reduce (s) | statistics (s)"
for i in $(seq 1 "$RUNS"); do
    log=$LOGS/lift_run_$i.log
    /usr/bin/time -v "$CARTLIFT" -v lift "$CARTS" --flow "$FLOW" \
        --segment-by cart_value_band,customer_status \
        --json benches/data/lift_20seg.json >/dev/null 2>"$log"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); if (length(t) == 3) print t[1]*3600 + t[2]*60 + t[3]; else print t[1]*60 + t[2]}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    read_s=$(grep -F '] read carts' "$log" | sed 's/^\[ *\([0-9.]*\) s\].*/\1/')
    reduce_s=$(grep -F '] reduce to sufficient statistics' "$log" | sed 's/^\[ *\([0-9.]*\) s\].*/\1/')
    stats_s=$(grep -E '\] statistics$' "$log" | sed 's/^\[ *\([0-9.]*\) s\].*/\1/')
    echo "$i | $wall | $rss | $read_s | $reduce_s | $stats_s"
done
results=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"]))' benches/data/lift_20seg.json)
echo "results in the report: $results"
