#!/usr/bin/env bash
# The generated SQL on DuckDB and Apache Spark (local mode) against the
# single-machine pipeline: tests/sql/run_engines.py in a venv made from
# tests/sql/requirements.txt (re-made when that file changes). Needs Java 17+
# for Spark (.ci/run installs a JDK from Debian's packages when it is missing)
# and a built binary (`cargo build`; CARTLIFT=path overrides).
#
#   tests/sql/run.sh            # the sample flow on DuckDB and Spark, another flow on DuckDB
#   tests/sql/run.sh [run_engines.py options, e.g. --carts 50000 --engines duckdb]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

VENV=tests/sql/.venv
REQ=tests/sql/requirements.txt
PYTHON=${PYTHON:-python3}
CARTLIFT=${CARTLIFT:-${CARGO_TARGET_DIR:-target}/debug/cartlift}

stamp="$VENV/.requirements"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$stamp"; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$stamp"
fi
[ -x "$CARTLIFT" ] || cargo build --quiet
run() { "$VENV/bin/python" tests/sql/run_engines.py --cartlift "$CARTLIFT" "$@"; }
if [ $# -gt 0 ]; then
    run "$@"
else
    # The sample flow on both engines; a flow unlike it (cart activity
    # triggers, two treatment arms, SMS) on DuckDB.
    run --engines duckdb,spark
    run --engines duckdb --flow tests/data/flows/three_arms.toml --seed 5
fi
