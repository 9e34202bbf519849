#!/usr/bin/env python3
"""Peer of `cartlift ingest`: DuckDB reads a CSV or NDJSON event log and
writes it as Parquet.

    python peer_duckdb.py EVENTS.csv|EVENTS.ndjson --out EVENTS.parquet

CSV goes through `read_csv` (types sniffed), NDJSON through `read_json`
with a full schema scan (`sample_size = -1`: rows omit keys whose value is
null, so the first rows alone do not show every column). DuckDB does no
validation, mapping, de-duplication or sorting here: it is the floor of
"read the file and write it as Parquet".
"""

from __future__ import annotations

import argparse
import time

import duckdb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    started = time.perf_counter()
    con = duckdb.connect()
    path = a.events.replace("'", "''")
    out = a.out.replace("'", "''")
    if a.events.endswith(".csv"):
        source = f"read_csv('{path}')"
    else:
        source = f"read_json('{path}', format = 'newline_delimited', sample_size = -1)"
    con.execute(f"COPY (SELECT * FROM {source}) TO '{out}' (FORMAT parquet)")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    print(f"{rows} rows in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
