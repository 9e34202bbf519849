#!/usr/bin/env bash
# `cartlift policy` (a learned targeting policy on a carts table) against two
# Python peers, causalml's UpliftRandomForestClassifier and scikit-uplift's
# TwoModels, on the same carts table and covariates, one process each, in one
# go. See benches/README.md ("policy") and benches/policy/peers.py.
#
#   benches/policy/run.sh            # from anywhere; it cds to the repo root
#
# Environment overrides (all optional):
#   CARTLIFT=target/release/cartlift   binary under test
#   CARTS=1500000 SEED=42              size and seed of the simulated log
#   COVARIATES=cart_value,...          the covariates every tool uses (default:
#                                      those of `cartlift policy --covariates all`)
#   TEST_SHARE=0.3 SPLIT_SEED=20261130 the peers' (and cartlift --units') test part
#   CAUSALML_MAX_TRAIN=0 SKLIFT_MAX_TRAIN=0   fit a peer on at most N training
#                                      units (random subsample; 0: all of them)
#   TIMEOUT=3600                       seconds before a tool's run is stopped
#   TOOLS="cartlift_carts cartlift_split causalml sklift"   which to run
#   PYTHON=python3                     interpreter used to create the venv (>= 3.11)
#   OMP_WAIT_POLICY=PASSIVE            OpenMP threads (LightGBM) sleep instead of
#                                      spinning: on a shared 2-core machine
#                                      spinning made the LightGBM fits 2-6x slower
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BENCH=benches/policy
DATA=benches/data
VENV=$BENCH/.venv
FLOW=$BENCH/flow_5arms.toml
CARTLIFT=${CARTLIFT:-target/release/cartlift}
CARTS=${CARTS:-1500000}
SEED=${SEED:-42}
# The covariates, one list for every tool: CART_COVARIATES of
# src/uplift/carts.rs (what `cartlift policy --covariates all` uses).
COVARIATES=${COVARIATES:-cart_value,customer_status,customer_prior_spend,abandoned_hour,abandoned_weekday,prior_orders,days_since_last_order,prior_discounted_orders,days_since_first_order,capture_channel}
export COVARIATES
TEST_SHARE=${TEST_SHARE:-0.3}
SPLIT_SEED=${SPLIT_SEED:-20261130}
CAUSALML_MAX_TRAIN=${CAUSALML_MAX_TRAIN:-0}
SKLIFT_MAX_TRAIN=${SKLIFT_MAX_TRAIN:-0}
TIMEOUT=${TIMEOUT:-3600}
TOOLS=${TOOLS:-cartlift_carts cartlift_split causalml sklift}
PYTHON=${PYTHON:-python3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# v2: the flow with capture channels and discount history (ten covariates).
TAG=v2_${CARTS}c_s${SEED}
EVENTS=$DATA/policy_events_$TAG.parquet
CARTS_TABLE=$DATA/policy_carts_$TAG.parquet
UNITS=$DATA/policy_units_$TAG.parquet
RUN=$DATA/logs/policy_${TAG}_$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$DATA" "$RUN"

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
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "error: $PYTHON is older than 3.11 (tomllib needed); set PYTHON=" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$BENCH/requirements.txt"
fi
PY=$VENV/bin/python

# (a) The carts table, simulated and reconstructed once per size and seed.
if [ ! -f "$CARTS_TABLE" ]; then
    if [ ! -f "$EVENTS" ]; then
        say "simulating $CARTS carts (seed $SEED) -> $EVENTS"
        "$CARTLIFT" simulate --flow "$FLOW" --carts "$CARTS" --seed "$SEED" \
            --out "$EVENTS" --truth "${EVENTS%.parquet}.truth.json"
    fi
    say "reconstructing -> $CARTS_TABLE"
    "$CARTLIFT" -q paths "$EVENTS" --flow "$FLOW" --out "$CARTS_TABLE" > "$RUN/paths.txt"
fi
# The units table with its train/test column, for `cartlift policy --units`
# (the peers build the same table themselves, inside their timed runs).
say "units table (train/test split) -> $UNITS"
/usr/bin/time -v -o "$RUN/units.time" "$PY" "$BENCH/peers.py" units "$CARTS_TABLE" --flow "$FLOW" \
    --out "$UNITS" --test-share "$TEST_SHARE" --split-seed "$SPLIT_SEED" | tee "$RUN/units.json"
read -r -a CARTLIFT_UNITS_ARGS <<< "$("$PY" "$BENCH/peers.py" cartlift-args --flow "$FLOW")"

# One untimed read so that no tool pays for a cold page cache alone.
cat "$CARTS_TABLE" "$UNITS" > /dev/null

# measure NAME CMD...: one run under /usr/bin/time -v (RUN/NAME.time), stdout
# to RUN/NAME.out; a run stopped by TIMEOUT or failing is noted in NAME.time.status.
measure() {
    local name=$1; shift
    say "$name: $*"
    local rc=0
    timeout "$TIMEOUT" /usr/bin/time -v -o "$RUN/$name.time" "$@" > "$RUN/$name.out" 2> "$RUN/$name.err" || rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "timed out after ${TIMEOUT} s" > "$RUN/$name.time.status"; rm -f "$RUN/$name.time"
    elif [ "$rc" -ne 0 ]; then
        echo "failed (exit $rc; see $name.err)" > "$RUN/$name.time.status"; rm -f "$RUN/$name.time"
    fi
    grep -E "Elapsed|Maximum resident" "$RUN/$name.time" >&2 2>/dev/null || cat "$RUN/$name.time.status" >&2
}

for tool in $TOOLS; do
    case $tool in
    cartlift_carts)
        # What `policy CARTS --flow F --covariates ...` does: one unit per
        # customer, 5-fold cross-fitted outcome models and trees, the value
        # of the tree on held-out folds, the evidence rule.
        measure cartlift_carts "$CARTLIFT" -v policy "$CARTS_TABLE" --flow "$FLOW" \
            --covariates "$COVARIATES" --json "$RUN/cartlift_carts.json" --scores "$RUN/cartlift_carts_scores.csv"
        ;;
    cartlift_split)
        # The same method learned on the peers' train part, reported on their
        # test part (the same units: written by peers.py above).
        measure cartlift_split "$CARTLIFT" -v policy --units "$UNITS" --arm-col arm --control holdout \
            --metric net_contribution --covariates "$COVARIATES" --split-col part "${CARTLIFT_UNITS_ARGS[@]}" \
            --json "$RUN/cartlift_split.json" --scores "$RUN/cartlift_split_scores.csv"
        if [ -f "$RUN/cartlift_split.json" ]; then
            "$PY" "$BENCH/peers.py" value --units "$UNITS" --flow "$FLOW" --json "$RUN/cartlift_split.json" \
                --scores "$RUN/cartlift_split_scores.csv" --out "$RUN/cartlift_split_value.json" > /dev/null
        fi
        ;;
    causalml)
        measure causalml "$PY" "$BENCH/peers.py" causalml "$CARTS_TABLE" --flow "$FLOW" \
            --test-share "$TEST_SHARE" --split-seed "$SPLIT_SEED" --max-train "$CAUSALML_MAX_TRAIN" \
            --json "$RUN/causalml.json"
        ;;
    sklift)
        measure sklift "$PY" "$BENCH/peers.py" sklift "$CARTS_TABLE" --flow "$FLOW" \
            --test-share "$TEST_SHARE" --split-seed "$SPLIT_SEED" --max-train "$SKLIFT_MAX_TRAIN" \
            --json "$RUN/sklift.json"
        ;;
    *) echo "unknown tool $tool" >&2; exit 1 ;;
    esac
done

{
    echo "carts table: $CARTS_TABLE ($(cat "$RUN/units.json"))"
    echo "covariates: $COVARIATES"
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo
    "$PY" "$BENCH/peers.py" report "$RUN"
} | tee "$RUN/table.md"
echo "outputs: $RUN" >&2
