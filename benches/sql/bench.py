#!/usr/bin/env python3
"""Where does Spark pay off? Single-node cartlift against the generated SQL.

    python benches/sql/bench.py --cartlift target/release/cartlift --sizes 20000,100000,400000

For each size: simulate data/sample/flow.toml (seed 42), then time
- cartlift: `paths` (events → carts table) + `lift --segment-by ...` (carts →
  statistics and tests), wall clock of the two processes;
- Spark local[N] (all cores of this machine): the `cartlift sql --dialect spark`
  script up to the statistics table, from a running session (session start
  reported apart), then `lift --stats` on that table;
- DuckDB: the `--dialect duckdb` script, for reference.

Prints one Markdown table row per size (the layout of benches/README.md) and
checks that the three statistics tables have the same rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "data/sample/flow.toml"
SEGMENTS = "cart_value_band,customer_status"


def run(cmd) -> float:
    t = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip().rstrip(";").strip() for s in body.split(";\n\n") if s.strip()]


def rows(path: Path) -> set:
    with open(path, newline="") as f:
        return {(r["dimension"], r["segment"], r["arm"], r["metric"], int(float(r["n"])))
                for r in csv.DictReader(f)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cartlift", default=str(ROOT / "target/release/cartlift"))
    ap.add_argument("--sql-cartlift", default=None,
                    help="binary that writes the SQL (default: --cartlift; generation is not timed)")
    ap.add_argument("--sizes", default="20000,100000,400000")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", default=None)
    ap.add_argument("--spark-memory", default="6g")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="cartlift-sql-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bin_ = args.cartlift

    import duckdb
    import pyarrow.csv as pacsv
    from pyspark.sql import SparkSession
    import pyspark

    # A new session's catalog knows no table: the warehouse left by an
    # earlier one would clash with the script's tables.
    shutil.rmtree(work / "spark-warehouse", ignore_errors=True)
    t = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{os.cpu_count()}]").appName("cartlift-sql-bench")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", args.spark_memory)
             .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter() - t
    print(f"spark {pyspark.__version__} session start {session:.1f}s; duckdb {duckdb.__version__}; "
          f"{os.cpu_count()} cores; work {work}", file=sys.stderr)
    print("| carts | events | cartlift paths + lift (s) | Spark SQL + lift --stats (s) | DuckDB SQL (s) | Spark / cartlift |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        events = work / f"events_{size}.parquet"
        if not events.exists():
            run([bin_, "simulate", "--flow", FLOW, "--carts", size, "--seed", args.seed, "--out", events])
        n_events = duckdb.sql(f"SELECT count(*) FROM read_parquet('{events}')").fetchall()[0][0]
        carts = work / f"carts_{size}.parquet"
        single = run([bin_, "paths", events, "--flow", FLOW, "--out", carts])
        single += run([bin_, "lift", carts, "--flow", FLOW, "--segment-by", SEGMENTS,
                       "--json", work / f"lift_{size}.json", "--write-stats", work / f"ref_{size}.csv"])

        def script(dialect: str) -> list[str]:
            return statements(subprocess.run(
                [args.sql_cartlift or bin_, "sql", "--flow", FLOW, "--dialect", dialect, "--events", str(events),
                 "--segment-by", SEGMENTS], check=True, capture_output=True, text=True).stdout)

        parts = script("spark")
        t = time.perf_counter()
        for s in parts[:-1]:
            spark.sql(s)
        pacsv.write_csv(spark.sql(parts[-1]).toArrow(), work / f"spark_{size}.csv")
        spark_s = time.perf_counter() - t
        spark_s += run([bin_, "lift", "--stats", work / f"spark_{size}.csv", "--flow", FLOW,
                        "--segment-by", SEGMENTS, "--json", work / f"spark_lift_{size}.json"])

        parts = script("duckdb")
        t = time.perf_counter()
        con = duckdb.connect()
        for s in parts[:-1]:
            con.execute(s)
        pacsv.write_csv(con.sql(parts[-1]).to_arrow_table(), work / f"duckdb_{size}.csv")
        con.close()
        duck_s = time.perf_counter() - t

        same = rows(work / f"spark_{size}.csv") == rows(work / f"ref_{size}.csv") == rows(work / f"duckdb_{size}.csv")
        print(f"| {size:,} | {n_events:,} | {single:.1f} | {spark_s:.1f} | {duck_s:.1f} | "
              f"{spark_s / single:.1f}× |{'' if same else ' (tables differ!)'}", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
