#!/usr/bin/env bash
# End-to-end benchmark of `cartlift paths` (flow reconstruction) against the
# same reconstruction in DuckDB SQL and in Python Polars, on one simulated
# events file. See benches/paths/README.md.
#
#   benches/paths/run.sh            # from anywhere; it cds to the repo root
#
# Environment overrides (all optional):
#   CARTLIFT=target/release/cartlift   binary under test
#   CARTS=1500000 SEED=42              size and seed of the simulated log
#   EVENTS=benches/data/events_1p5m.parquet
#   RUNS=3                             timed runs per tool (median wall reported)
#   PYTHON=python3                     interpreter used to create the venv (>= 3.11)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BENCH=benches/paths
DATA=benches/data
VENV=benches/.venv
FLOW=data/sample/flow.toml
CARTLIFT=${CARTLIFT:-target/release/cartlift}
CARTS=${CARTS:-1500000}
SEED=${SEED:-42}
EVENTS=${EVENTS:-$DATA/events_1p5m.parquet}
TRUTH=${EVENTS%.parquet}.truth.json
[ "$EVENTS" = "$DATA/events_1p5m.parquet" ] && TRUTH=$DATA/truth_1p5m.json
RUNS=${RUNS:-3}
PYTHON=${PYTHON:-python3}
LOGS=$DATA/logs
mkdir -p "$DATA" "$LOGS"

say() { printf '\n== %s\n' "$*" >&2; }

# GNU time gives wall clock and maximum resident set size (`-v`); the shell
# builtin `time` does not report memory. Installed with apt if missing.
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

# Python peers: a venv with pinned versions, created once.
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV (pinned: $BENCH/requirements.txt)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "error: $PYTHON is older than 3.11 (tomllib needed); set PYTHON=" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$BENCH/requirements.txt"
fi
PY=$VENV/bin/python

# (a) The events file, simulated once.
if [ ! -f "$EVENTS" ]; then
    say "simulating $CARTS carts (seed $SEED) -> $EVENTS"
    "$CARTLIFT" simulate --flow "$FLOW" --carts "$CARTS" --seed "$SEED" --out "$EVENTS" --truth "$TRUTH"
fi

# (b) Timed runs. Every tool reads the same file; one untimed read first so
# that no tool pays for a cold page cache alone.
cat "$EVENTS" > /dev/null

RESULTS=$LOGS/results.tsv
: > "$RESULTS"

# elapsed "h:mm:ss" or "m:ss.ss" -> seconds
to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f\n", s }'; }

# measure LABEL CMD...: RUNS runs under /usr/bin/time -v; appends
# "LABEL<TAB>median wall s<TAB>max RSS kB" to RESULTS.
measure() {
    local label=$1; shift
    local walls=() rss_max=0
    for i in $(seq 1 "$RUNS"); do
        local tlog=$LOGS/$label.$i.time
        if ! /usr/bin/time -v -o "$tlog" "$@" > "$LOGS/$label.$i.log" 2>&1; then
            echo "error: $label run $i failed; see $LOGS/$label.$i.log" >&2
            cat "$LOGS/$label.$i.log" >&2
            exit 1
        fi
        local wall rss
        wall=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tlog" | to_seconds)
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tlog")
        printf '   %-8s run %d: %8.2f s  %8.0f MB\n' "$label" "$i" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" >&2
        walls+=("$wall")
        [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    printf '%s\t%s\t%s\n' "$label" "$median" "$rss_max" >> "$RESULTS"
}

say "timing cartlift paths ($RUNS runs)"
measure cartlift "$CARTLIFT" paths "$EVENTS" --flow "$FLOW" --out "$DATA/carts.parquet"
say "timing DuckDB peer ($RUNS runs)"
measure duckdb "$PY" "$BENCH/peer_duckdb.py" "$EVENTS" --flow "$FLOW" --out "$DATA/carts_duckdb.parquet"
say "timing Polars peer ($RUNS runs)"
measure polars "$PY" "$BENCH/peer_polars.py" "$EVENTS" --flow "$FLOW" --out "$DATA/carts_polars.parquet"

# (c) Do the peers compute the same thing?
AGREE=()
for peer in duckdb polars; do
    say "comparing $peer with cartlift"
    if "$PY" "$BENCH/compare.py" "$DATA/carts_$peer.parquet" "$DATA/carts.parquet" --name "$peer" \
        | tee "$LOGS/compare_$peer.txt"; then
        AGREE+=("$peer: exact")
    else
        AGREE+=("$peer: DIFFERS (see $LOGS/compare_$peer.txt)")
    fi
done

# (d) The table.
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
MEM_GB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
VERSIONS=$("$PY" -c 'import duckdb, polars; print(f"duckdb {duckdb.__version__}, polars {polars.__version__}")')
count_rows() { "$PY" -c 'import sys, polars as pl; print(pl.scan_parquet(sys.argv[1]).select(pl.len()).collect().item())' "$1"; }
ROWS=$(count_rows "$EVENTS")
ENTRIES=$(count_rows "$DATA/carts.parquet")
TABLE=$DATA/paths_results.md
{
    echo
    echo "### cartlift paths vs peers, $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: ${CPU:-unknown CPU}, $(nproc) cores, ${MEM_GB} GB RAM. Input: $EVENTS ($ROWS events, $ENTRIES flow entries), flow $FLOW. $("$CARTLIFT" --version 2>/dev/null || echo cartlift); $VERSIONS. Median of $RUNS runs; peak RSS is the largest of the runs."
    echo
    echo "| tool | wall s | peak RSS MB | wall vs cartlift | RSS vs cartlift |"
    echo "|---|---:|---:|---:|---:|"
    awk -F'\t' '
        NR == 1 { base_wall = $2; base_rss = $3 }
        {
            name = ($1 == "cartlift") ? "cartlift paths" : ($1 == "duckdb") ? "DuckDB SQL (peer_duckdb.py)" : "Polars lazy (peer_polars.py)"
            printf "| %s | %.2f | %.0f | %.2f× | %.2f× |\n", name, $2, $3 / 1024, $2 / base_wall, $3 / base_rss
        }' "$RESULTS"
    echo
    echo "Agreement with cartlift's carts (per-arm entries/conversions/revenue and per-entry converted/revenue): $(IFS=';'; echo "${AGREE[*]}" | sed 's/;/; /g')."
} | tee "$TABLE"
echo >&2
echo "(table saved to $TABLE; logs in $LOGS)" >&2
