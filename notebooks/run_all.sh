#!/usr/bin/env bash
# Executes every notebook headless against a report folder; fails on any error.
#   CARTLIFT_REPORT=DIR notebooks/run_all.sh   # an existing report folder
#   notebooks/run_all.sh                       # makes one with `cartlift demo`
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "${CARTLIFT_REPORT:-}" ]; then
    cargo run -q -- demo --out "$work/report" >/dev/null
    export CARTLIFT_REPORT="$work/report"
fi
export CARTLIFT_REPORT="$(cd "$CARTLIFT_REPORT" && pwd)"

status=0
for nb in "$here"/*.ipynb; do
    name="$(basename "$nb")"
    start=$SECONDS
    # Executed copies go to the temporary folder: the committed notebooks stay without outputs.
    if "$venv/bin/jupyter" nbconvert --execute --to notebook \
        --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
        --output-dir "$work/executed" "$nb" >"$work/$name.log" 2>&1; then
        echo "ok      $name ($((SECONDS - start))s)"
    else
        echo "FAILED  $name"
        cat "$work/$name.log"
        status=1
    fi
done
exit $status
