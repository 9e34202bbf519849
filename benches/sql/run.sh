#!/usr/bin/env bash
# Crossover benchmark: single-node cartlift (paths + lift) against the
# generated SQL on Spark in local mode (and DuckDB), on growing logs.
# Uses the venv of tests/sql (same pinned engines). See benches/README.md.
#
#   benches/sql/run.sh [--sizes 20000,100000,400000] [--work DIR]
#
# CARTLIFT=target/release/cartlift overrides the binary (build it with
# `cargo build --release`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

VENV=tests/sql/.venv
REQ=tests/sql/requirements.txt
PYTHON=${PYTHON:-python3}
CARTLIFT=${CARTLIFT:-target/release/cartlift}
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
exec "$VENV/bin/python" benches/sql/bench.py --cartlift "$CARTLIFT" "$@"
