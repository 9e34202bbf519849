#!/usr/bin/env bash
# Attribution benchmark: cartlift (examples/attribution_bench.rs: every
# heuristic, exact Markov order 1, Shapley) against ChannelAttribution
# (heuristic_models + markov_model, order 1) on one path table of 3 M
# journeys over 20 channels. Reports median wall time and peak RSS
# (/usr/bin/time -v) per tool, checks the two agree, and prints a table for
# RESULTS.md.
#
#   benches/attribution/bench.sh        # from anywhere; it cds to the repo root
#
# Environment overrides (all optional):
#   JOURNEYS=3000000                     rows of the generated path table
#   PATHS=benches/data/attribution_paths_3m.csv
#   RUNS=3                               timed runs per tool (median wall)
#   PY=benches/attribution/.venv/bin/python   interpreter with requirements.txt
#                                        installed (created if missing)
#   CA_NCORE=2                           ChannelAttribution's ncore
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BENCH=benches/attribution
DATA=benches/data
JOURNEYS=${JOURNEYS:-3000000}
PATHS=${PATHS:-$DATA/attribution_paths_3m.csv}
RUNS=${RUNS:-3}
PY=${PY:-$BENCH/.venv/bin/python}
CA_NCORE=${CA_NCORE:-2}
LOGS=$DATA/attribution_logs
OURS_BIN=target/release/examples/attribution_bench
mkdir -p "$DATA" "$LOGS"

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
    say "/usr/bin/time missing: installing GNU time"
    apt-get install -y time >/dev/null
fi

if [ ! -x "$PY" ]; then
    say "creating $BENCH/.venv with $BENCH/requirements.txt"
    python3 -m venv "$BENCH/.venv"
    "$BENCH/.venv/bin/pip" install -q -r "$BENCH/requirements.txt"
    PY=$BENCH/.venv/bin/python
fi

if [ ! -s "$PATHS" ]; then
    say "generating $PATHS ($JOURNEYS journeys, 20 channels, fixed seed)"
    "$PY" "$BENCH/generate_paths.py" "$PATHS" "$JOURNEYS"
fi

say "building $OURS_BIN"
cargo build --release --example attribution_bench

to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'; }

# measure LABEL CMD...: RUNS runs under /usr/bin/time -v; prints
# "LABEL median_wall_s max_rss_kB".
measure() {
    local label=$1; shift
    local walls=() rss_max=0
    for i in $(seq 1 "$RUNS"); do
        local tlog=$LOGS/$label.$i.time
        /usr/bin/time -v -o "$tlog" "$@" > "$LOGS/$label.$i.log" 2>&1 \
            || { cat "$LOGS/$label.$i.log" >&2; exit 1; }
        local wall rss
        wall=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tlog" | to_seconds)
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tlog")
        walls+=("$wall")
        [ "$rss" -gt "$rss_max" ] && rss_max=$rss
        say "$label run $i: ${wall} s, ${rss} kB"
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    echo "$label $median $rss_max"
}

ours=$(measure cartlift "$OURS_BIN" "$PATHS" "$LOGS/cartlift.json")
theirs=$(measure channel_attribution "$PY" "$BENCH/run_channel_attribution.py" "$PATHS" "$LOGS/channel_attribution.json" "$CA_NCORE")

say "agreement"
"$PY" "$BENCH/compare.py" "$LOGS/cartlift.json" "$LOGS/channel_attribution.json"

say "stage times (last run)"
cat "$LOGS/cartlift.$RUNS.log" "$LOGS/channel_attribution.$RUNS.log" | grep -v -e '^Version' -e 'Pro ' || true

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

read -r _ ow orss <<< "$ours"
read -r _ tw trss <<< "$theirs"
echo
echo "| tool | median wall (s) | peak RSS (MiB) |"
echo "|---|---:|---:|"
echo "| cartlift (all heuristics + exact Markov order 1 + Shapley) | $(calc "$ow") | $(calc "$orss / 1024" 0) |"
echo "| ChannelAttribution (heuristic_models + markov_model order 1, ncore=$CA_NCORE) | $(calc "$tw") | $(calc "$trss / 1024" 0) |"
printf '\nspeed-up %sx, memory ratio %sx (%s runs each, %s cores, %s, %s)\n' \
    "$(calc "$tw / $ow" 1)" "$(calc "$trss / $orss" 1)" "$RUNS" "$(nproc)" \
    "$(date -u +%Y-%m-%d)" "$(uptime | sed 's/.*load average/load average/')"
