#!/usr/bin/env bash
# Benchmark of `cartlift ingest` (raw CSV / NDJSON -> canonical Parquet)
# against DuckDB reading the same file and writing it as Parquet, plus
# `report` on the raw CSV against `report` on the canonical Parquet, and
# ingest's peak memory on a small and a large NDJSON log. See
# benches/README.md ("ingest").
#
#   benches/ingest/run.sh            # from anywhere; it cds to the repo root
#
# Environment overrides (all optional):
#   CARTLIFT=target/release/cartlift   binary under test
#   CARTS=1500000 SMALL_CARTS=140000 SEED=42
#   RUNS=2                             alternating rounds (cartlift, DuckDB, ...)
#   PYTHON=python3                     interpreter used to create the venv
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BENCH=benches/ingest
DATA=benches/data
VENV=benches/.venv-ingest
FLOW=data/sample/flow.toml
CARTLIFT=${CARTLIFT:-target/release/cartlift}
CARTS=${CARTS:-1500000}
SMALL_CARTS=${SMALL_CARTS:-140000}
SEED=${SEED:-42}
RUNS=${RUNS:-2}
PYTHON=${PYTHON:-python3}
LOGS=$DATA/ingest_logs
OUT=$DATA/ingest_out
mkdir -p "$DATA" "$LOGS" "$OUT"

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
    say "/usr/bin/time missing: installing GNU time (apt-get install -y time)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get install -y time || { $SUDO apt-get update && $SUDO apt-get install -y time; }
fi
if [ ! -x "$CARTLIFT" ]; then
    echo "error: $CARTLIFT not found; build it first: cargo build --release" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV (pinned: $BENCH/requirements.txt)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$BENCH/requirements.txt"
fi
PY=$VENV/bin/python

# (a) The logs, simulated once: the same events as CSV and as NDJSON, and a
# small NDJSON log for the memory comparison.
CSV=$DATA/events_$CARTS.csv
NDJSON=$DATA/events_$CARTS.ndjson
SMALL=$DATA/events_$SMALL_CARTS.ndjson
for f in "$CSV" "$NDJSON"; do
    if [ ! -f "$f" ]; then
        say "simulating $CARTS carts (seed $SEED) -> $f"
        "$CARTLIFT" simulate --flow "$FLOW" --carts "$CARTS" --seed "$SEED" --out "$f"
    fi
done
if [ ! -f "$SMALL" ]; then
    say "simulating $SMALL_CARTS carts (seed $SEED) -> $SMALL"
    "$CARTLIFT" simulate --flow "$FLOW" --carts "$SMALL_CARTS" --seed "$SEED" --out "$SMALL"
fi

RESULTS=$LOGS/results.tsv
: > "$RESULTS"
to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f\n", s }'; }

# once LABEL CMD...: one run under /usr/bin/time -v; appends
# "LABEL<TAB>wall s<TAB>max RSS kB" to RESULTS.
once() {
    local label=$1; shift
    local tlog=$LOGS/$label.$(date +%s%N).time
    if ! /usr/bin/time -v -o "$tlog" "$@" > "$tlog.log" 2>&1; then
        echo "error: $label failed; see $tlog.log" >&2
        cat "$tlog.log" >&2
        exit 1
    fi
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tlog" | to_seconds)
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tlog")
    printf '   %-22s %8.2f s  %8.0f MB   (load %s)\n' "$label" "$wall" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(cut -d' ' -f1 /proc/loadavg)" >&2
    printf '%s\t%s\t%s\n' "$label" "$wall" "$rss" >> "$RESULTS"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# One untimed read of each input first, so no tool pays for a cold cache alone.
cat "$CSV" "$NDJSON" "$SMALL" > /dev/null

say "ingest vs DuckDB, $RUNS alternating rounds"
for i in $(seq 1 "$RUNS"); do
    once ingest_csv "$CARTLIFT" ingest "$CSV" --out "$OUT/from_csv.parquet"
    once duckdb_csv "$PY" "$BENCH/peer_duckdb.py" "$CSV" --out "$OUT/duckdb_csv.parquet"
    once ingest_ndjson "$CARTLIFT" ingest "$NDJSON" --out "$OUT/from_ndjson.parquet"
    once duckdb_ndjson "$PY" "$BENCH/peer_duckdb.py" "$NDJSON" --out "$OUT/duckdb_ndjson.parquet"
done
say "the same canonical events from CSV and from NDJSON?"
if cmp -s "$OUT/from_csv.parquet" "$OUT/from_ndjson.parquet"; then SAME=identical; else SAME=DIFFERENT; fi
echo "   $SAME" >&2

say "report on the CSV vs on the canonical Parquet"
rm -rf "$OUT/report_csv" "$OUT/report_parquet"
once report_csv "$CARTLIFT" report "$CSV" --flow "$FLOW" --out "$OUT/report_csv"
once report_parquet "$CARTLIFT" report "$OUT/from_csv.parquet" --flow "$FLOW" --out "$OUT/report_parquet"

say "ingest peak memory: small vs large NDJSON"
once ingest_small_ndjson "$CARTLIFT" ingest "$SMALL" --out "$OUT/small.parquet"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

count_lines() { wc -l < "$1" | tr -d ' '; }
EVENTS_LARGE=$(count_lines "$NDJSON")
EVENTS_SMALL=$(count_lines "$SMALL")
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
MEM_GB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
TABLE=$DATA/ingest_results.md
{
    echo
    echo "### cartlift ingest vs DuckDB, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "Machine: ${CPU:-unknown CPU}, $(nproc) cores, ${MEM_GB} GB RAM; load average $LOAD_START at the start, $LOAD_END at the end."
    echo "Inputs: $CSV ($(du -m "$CSV" | cut -f1) MB) and $NDJSON ($(du -m "$NDJSON" | cut -f1) MB), $EVENTS_LARGE events each; $SMALL ($EVENTS_SMALL events). $("$PY" -c 'import duckdb; print("DuckDB", duckdb.__version__)'). Canonical output from CSV and from NDJSON: $SAME."
    echo
    echo "| run | wall s | peak RSS MB |"
    echo "|---|---:|---:|"
    awk -F'\t' '{ printf "| %s | %.2f | %.0f |\n", $1, $2, $3 / 1024 }' "$RESULTS"
    echo
    awk -F'\t' '
        { w[$1] += $2; n[$1] += 1; if ($3 > r[$1]) r[$1] = $3 }
        END {
            m = "ingest_csv duckdb_csv ingest_ndjson duckdb_ndjson"
            printf "Means: ingest CSV %.2f s vs DuckDB %.2f s (%.2fx), peak %.0f vs %.0f MB (%.2fx); ", w["ingest_csv"]/n["ingest_csv"], w["duckdb_csv"]/n["duckdb_csv"], (w["ingest_csv"]/n["ingest_csv"])/(w["duckdb_csv"]/n["duckdb_csv"]), r["ingest_csv"]/1024, r["duckdb_csv"]/1024, r["ingest_csv"]/r["duckdb_csv"]
            printf "ingest NDJSON %.2f s vs DuckDB %.2f s (%.2fx), peak %.0f vs %.0f MB (%.2fx). ", w["ingest_ndjson"]/n["ingest_ndjson"], w["duckdb_ndjson"]/n["duckdb_ndjson"], (w["ingest_ndjson"]/n["ingest_ndjson"])/(w["duckdb_ndjson"]/n["duckdb_ndjson"]), r["ingest_ndjson"]/1024, r["duckdb_ndjson"]/1024, r["ingest_ndjson"]/r["duckdb_ndjson"]
            printf "report on CSV / on Parquet: %.2fx. ", w["report_csv"]/w["report_parquet"]
            printf "ingest peak, large / small NDJSON: %.2fx.\n", r["ingest_ndjson"]/r["ingest_small_ndjson"]
        }' "$RESULTS"
} | tee "$TABLE"
echo >&2
echo "(table saved to $TABLE; logs in $LOGS)" >&2
