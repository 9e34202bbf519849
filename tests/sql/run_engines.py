#!/usr/bin/env python3
"""The SQL of `cartlift sql` on real engines, against the single-machine pipeline.

    python tests/sql/run_engines.py --cartlift target/debug/cartlift [--carts 20000] [--seed 11]
        [--engines duckdb,spark] [--work DIR]

On one simulated log (`cartlift simulate` of data/sample/flow.toml):

1. the single-machine pipeline: `cartlift paths` (carts table), `cartlift
   attribute` on the events, and `cartlift lift` (with `--write-stats` when
   the binary has it);
2. per engine (DuckDB, Apache Spark in local mode), the generated SQL for the
   statistics table, the statistics split in partitions, the path table and
   the carts rows; the scripts share every statement but the last, which runs
   once per engine;
3. checks: carts rows equal `paths`' (flags and counts exactly, money to 1e-9
   relative); the statistics table equals one computed here from `paths`'
   carts table with the same formulas (n exactly, sums to 1e-9 relative), and
   the `--write-stats` table when there is one; per-partition rows add up to
   the merged table; `lift --stats` on the engine's table gives the JSON of
   `lift` on the carts (counts exactly, statistics to 1e-9 relative);
   `attribute --paths` on the engine's path table gives `attribute`'s credit
   (every model but time_decay, which needs touch ages a path table has not);
4. the SQL of all four dialects parses with sqlglot (BigQuery and Snowflake
   have no engine here).

Ends with `N passed, M failed`; exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REL = 1e-9
STATS_KEY = ("dimension", "segment", "arm", "metric")
STATS_SUMS = ("sum", "sum_sq", "sum_den", "sum_den_sq", "sum_num_den",
              "sum_cov", "sum_cov_sq", "sum_cov_num", "sum_messages", "sum_cube", "nonzero")
SEGMENTS = ["cart_value_band", "customer_status"]


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failed.append(name)
            print(f"FAIL {name}")
            for p in problems[:10]:
                print(f"     {p}")
            if len(problems) > 10:
                print(f"     ... {len(problems) - 10} more")
        else:
            self.passed += 1
            print(f"ok   {name}")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    shown = " ".join(str(c) for c in cmd)
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"command failed ({res.returncode}): {shown}\n{res.stdout}\n{res.stderr}")
    return res


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= REL * max(abs(a), abs(b)) + 1e-12


def statements(text: str) -> list[str]:
    """The script's statements (the generator separates them by `;` and a blank line)."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip().rstrip(";").strip() for s in body.split(";\n\n") if s.strip()]


# ---------------------------------------------------------------- engines

class DuckDB:
    name = "duckdb"

    def __init__(self, work: Path) -> None:
        import duckdb
        self.con = duckdb.connect()
        self.version = duckdb.__version__

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str):
        return self.con.sql(sql).to_arrow_table()

    def close(self) -> None:
        self.con.close()


class Spark:
    name = "spark"

    def __init__(self, work: Path) -> None:
        from pyspark.sql import SparkSession
        import pyspark
        # A new session's catalog knows no table: the warehouse left by an
        # earlier one would clash with the script's tables.
        shutil.rmtree(work / "spark-warehouse", ignore_errors=True)
        self.version = pyspark.__version__
        self.spark = (
            SparkSession.builder.master("local[2]").appName("cartlift-sql")
            # Timestamps without a time zone are read as UTC.
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            # The script's intermediate tables are written here.
            .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "2"))
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def query(self, sql: str):
        return self.spark.sql(sql).toArrow()

    def close(self) -> None:
        self.spark.stop()


ENGINES = {"duckdb": DuckDB, "spark": Spark}


# ---------------------------------------------------------------- references

def reference_stats(carts: Path, flow: dict) -> dict:
    """The statistics table from `paths`' carts table, with the formulas the
    statistics layer uses (one row per customer within a segment value)."""
    import duckdb
    m = flow["margin"]
    cm, ship = float(m["contribution_margin"]), float(m.get("shipping_cost", 0.0))
    con = duckdb.connect()
    con.execute(f"""
        CREATE TEMP TABLE c AS
        SELECT *, {cm!r}::DOUBLE * (revenue + discount) - discount
                  - CASE WHEN converted AND NOT cancelled THEN {ship!r}::DOUBLE ELSE 0.0::DOUBLE END
                  - message_cost AS net
        FROM read_parquet('{carts}')""")
    dims = [("all", "'all'")] + [(s, f"coalesce(CAST({s} AS VARCHAR), 'unknown')") for s in SEGMENTS]
    rows = {}
    for dim, seg in dims:
        units = con.execute(f"""
            SELECT {seg} AS segment, arm,
                   count(*)::DOUBLE AS d, sum(converted::INT)::DOUBLE AS conv,
                   sum(revenue) AS rev, sum(net) AS net,
                   max(unsubscribed::INT)::DOUBLE AS unsub, max(complained::INT)::DOUBLE AS compl,
                   sum(messages_sent)::DOUBLE AS msg, first(customer_prior_spend) AS x
            FROM c GROUP BY customer_id, arm, {seg}""").fetchall()
        acc: dict = {}
        for segment, arm, d, conv, rev, net, unsub, compl, msg, x in units:
            a = acc.setdefault((segment, arm), {})
            a["n"] = a.get("n", 0) + 1
            for name, y, den, cov, msgs in (
                ("conversion_rate", conv, d, None, None),
                ("revenue_per_recipient", rev, None, x, None),
                ("net_contribution_per_recipient", net, None, x, None),
                ("orders_per_recipient", conv, None, x, None),
                ("unsubscribe_rate", unsub, None, None, msg),
                ("complaint_rate", compl, None, None, msg),
            ):
                s = a.setdefault(name, {k: None for k in STATS_SUMS})
                add = lambda k, v: s.__setitem__(k, (s[k] or 0.0) + v)
                add("sum", y)
                add("sum_sq", y * y)
                add("sum_cube", y * y * y)
                add("nonzero", 1.0 if y != 0 else 0.0)
                if den is not None:
                    add("sum_den", den)
                    add("sum_den_sq", den * den)
                    add("sum_num_den", y * den)
                if cov is not None:
                    add("sum_cov", cov)
                    add("sum_cov_sq", cov * cov)
                    add("sum_cov_num", cov * y)
                if msgs is not None:
                    add("sum_messages", msgs)
        for (segment, arm), a in acc.items():
            for metric, s in a.items():
                if metric == "n":
                    continue
                rows[(dim, segment, arm, metric)] = {"n": a["n"], **s}
    return rows


def read_stats_csv(path: Path) -> dict:
    rows: dict = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = tuple(r[k] for k in STATS_KEY)
            vals = {"n": int(float(r["n"])), "kind": r.get("kind")}
            for k in STATS_SUMS:
                v = r.get(k)
                vals[k] = None if v in (None, "") else float(v)
            if key in rows:  # partial rows merge by adding every field
                old = rows[key]
                old["n"] += vals["n"]
                for k in STATS_SUMS:
                    if vals[k] is not None:
                        old[k] = (old[k] or 0.0) + vals[k]
            else:
                rows[key] = vals
    return rows


def compare_stats(got: dict, want: dict) -> list[str]:
    problems = []
    for key in sorted(set(got) | set(want)):
        if key not in got or key not in want:
            problems.append(f"{key}: only in {'engine' if key in got else 'reference'}")
            continue
        g, w = got[key], want[key]
        if g["n"] != w["n"]:
            problems.append(f"{key}: n {g['n']} != {w['n']}")
        for k in STATS_SUMS:
            if not close(g.get(k), w.get(k)):
                problems.append(f"{key}: {k} {g.get(k)!r} != {w.get(k)!r}")
    return problems


def compare_json(a, b, path="$") -> list[str]:
    """Numbers: integers exactly, others to 1e-9 relative; the rest equal."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
        return [] if a == b else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return [] if a == b else [f"{path}: {a} != {b}"]
        return [] if close(a, b) else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: missing on one side")
            else:
                out += compare_json(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += compare_json(x, y, f"{path}[{i}]")
        return out
    return [f"{path}: {a!r} != {b!r}"]


def credit_by_name(credit: dict) -> dict:
    out = {}
    for m in credit["models"]:
        if m["model"] == "time_decay":
            continue
        for ch in m["channels"]:
            out[(m["model"], ch["channel"])] = (ch["conversions"], ch["value"])
    return out


def compare_credit(got: dict, want: dict) -> list[str]:
    g, w = credit_by_name(got), credit_by_name(want)
    problems = []
    for key in sorted(set(g) | set(w)):
        a, b = g.get(key, (0.0, 0.0)), w.get(key, (0.0, 0.0))
        if not (close(a[0], b[0]) and close(a[1], b[1])):
            problems.append(f"{key}: {a} != {b}")
    return problems


def compare_carts(got_path: Path, want_path: Path) -> list[str]:
    import duckdb
    con = duckdb.connect()
    j = f"FROM read_parquet('{want_path}') a FULL JOIN read_parquet('{got_path}') b USING (entry_id)"
    problems = []
    only = con.execute(f"SELECT count(*) {j} WHERE a.customer_id IS NULL OR b.customer_id IS NULL").fetchone()[0]
    if only:
        problems.append(f"{only} entries only on one side")
    exact = ["arm", "bucket", "cart_value_band", "customer_status", "converted::INT", "cancelled::INT",
             "messages_sent", "unsubscribed::INT", "complained::INT"]
    for c in exact:
        col = c.split("::")[0]
        n = con.execute(f"SELECT count(*) {j} WHERE a.{c} IS DISTINCT FROM b.{c}").fetchone()[0]
        if n:
            ex = con.execute(f"SELECT entry_id, a.{col}, b.{col} {j} WHERE a.{c} IS DISTINCT FROM b.{c} LIMIT 3").fetchall()
            problems.append(f"{col}: {n} entries differ, e.g. {ex}")
    for col in ["cart_value", "revenue", "discount", "message_cost", "customer_prior_spend"]:
        cond = (f"(a.{col} IS NULL) <> (b.{col} IS NULL) OR "
                f"abs(a.{col} - b.{col}) > {REL} * greatest(abs(a.{col}), abs(b.{col})) + 1e-12")
        n = con.execute(f"SELECT count(*) {j} WHERE {cond}").fetchone()[0]
        if n:
            ex = con.execute(f"SELECT entry_id, a.{col}, b.{col} {j} WHERE {cond} LIMIT 3").fetchall()
            problems.append(f"{col}: {n} entries differ, e.g. {ex}")
    return problems


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cartlift", default=str(ROOT / "target/debug/cartlift"))
    ap.add_argument("--flow", default=str(ROOT / "data/sample/flow.toml"))
    ap.add_argument("--carts", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    args = ap.parse_args()

    import tempfile
    work = Path(args.work or tempfile.mkdtemp(prefix="cartlift-sql-"))
    work.mkdir(parents=True, exist_ok=True)
    bin_ = args.cartlift
    flow = Path(args.flow)
    flow_cfg = tomllib.loads(flow.read_text())
    seg = ",".join(SEGMENTS)
    checks = Checks()

    events = work / "events.parquet"
    t0 = time.perf_counter()
    run([bin_, "simulate", "--flow", flow, "--carts", args.carts, "--seed", args.seed, "--out", events])
    run([bin_, "paths", events, "--flow", flow, "--out", work / "carts.parquet"])
    run([bin_, "attribute", events, "--flow", flow, "--json", work / "attribute.json"])
    lift_help = run([bin_, "lift", "--help"]).stdout
    has_stats = "--write-stats" in lift_help and "--stats" in lift_help
    lift_cmd = [bin_, "lift", work / "carts.parquet", "--flow", flow, "--segment-by", seg,
                "--cuped", "--json", work / "lift.json"]
    if has_stats:
        lift_cmd += ["--write-stats", work / "lift_stats.csv"]
    run(lift_cmd)
    print(f"single machine: {time.perf_counter() - t0:.1f}s ({args.carts} carts, seed {args.seed}, in {work})")
    want = reference_stats(work / "carts.parquet", flow_cfg)
    if has_stats:
        checks.check("--write-stats table equals the statistics computed from the carts table",
                     compare_stats(read_stats_csv(work / "lift_stats.csv"), want))
    else:
        print("note: this cartlift has no `lift --write-stats`/`--stats`: lift JSON not compared")
    attribute = json.loads((work / "attribute.json").read_text())

    # The SQL, per dialect and query.
    def sql(dialect: str, query: str, extra=(), events_arg=str(events)) -> str:
        return run([bin_, "sql", "--flow", flow, "--dialect", dialect, "--events", events_arg,
                    "--segment-by", seg, "--query", query, *extra]).stdout

    import sqlglot
    for dialect in ("spark", "duckdb", "bigquery", "snowflake"):
        target = str(events) if dialect in ("spark", "duckdb") else "analytics.events"
        problems = []
        for query in ("stats", "paths", "carts"):
            try:
                parsed = sqlglot.parse(sql(dialect, query, events_arg=target), read=dialect)
                if any(p is None for p in parsed):
                    problems.append(f"{query}: an empty statement")
            except sqlglot.errors.ParseError as e:
                problems.append(f"{query}: {str(e)[:300]}")
        checks.check(f"{dialect}: the generated SQL parses (sqlglot {sqlglot.__version__}, read={dialect})",
                     problems)

    for name in [e for e in args.engines.split(",") if e]:
        scripts = {
            "stats": sql(name, "stats"),
            "partitions": sql(name, "stats", ["--partitions", "4"]),
            "paths": sql(name, "paths"),
            "carts": sql(name, "carts"),
        }
        parts = {k: statements(v) for k, v in scripts.items()}
        prefix = parts["stats"][:-1]
        if any(p[:-1] != prefix for p in parts.values()):
            checks.check(f"{name}: the scripts share their statements but the last", ["they differ"])
            continue
        t0 = time.perf_counter()
        engine = ENGINES[name](work)
        started = time.perf_counter()
        for s in prefix:
            engine.execute(s)
        built = time.perf_counter()
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq
        results = {}
        timing = {}
        for k, p in parts.items():
            t = time.perf_counter()
            results[k] = engine.query(p[-1])
            timing[k] = time.perf_counter() - t
        engine.close()
        print(f"{name} {engine.version}: session {started - t0:.1f}s, shared statements {built - started:.1f}s, "
              + ", ".join(f"{k} {v:.1f}s" for k, v in timing.items()))
        stats_csv = work / f"{name}_stats.csv"
        pacsv.write_csv(results["stats"], stats_csv)
        pacsv.write_csv(results["partitions"], work / f"{name}_stats_partitions.csv")
        pq.write_table(results["carts"], work / f"{name}_carts.parquet")

        checks.check(f"{name}: carts rows equal `cartlift paths`",
                     compare_carts(work / f"{name}_carts.parquet", work / "carts.parquet"))
        got = read_stats_csv(stats_csv)
        checks.check(f"{name}: statistics table equals the one from the carts table ({len(got)} rows)",
                     compare_stats(got, want))
        merged = read_stats_csv(work / f"{name}_stats_partitions.csv")
        n_part_rows = results["partitions"].num_rows
        checks.check(f"{name}: per-partition rows ({n_part_rows}) merge to the table",
                     compare_stats(merged, got))
        if has_stats:
            out = work / f"{name}_lift.json"
            run([bin_, "lift", "--stats", stats_csv, "--flow", flow, "--segment-by", seg, "--cuped",
                 "--json", out])
            a = json.loads(out.read_text())
            b = json.loads((work / "lift.json").read_text())
            # Capped results beside raw ones need the per-unit values; a
            # statistics table has none.
            for r in b.get("results", []):
                r.pop("capped", None)
            problems = []
            for key in sorted(set(a) | set(b)):
                if key == "options":
                    continue
                problems += compare_json(a.get(key), b.get(key), f"$.{key}")
            checks.check(f"{name}: `lift --stats` equals `lift` on the carts", problems)

        if name == "duckdb":
            # A table rather than a Parquet path: without a row order, ties
            # go by content; with --row-order, by the given column.
            for label, extra in (("content order", []), ("--row-order", ["--row-order", "seq"])):
                con = DuckDB(work)
                con.execute(f"CREATE VIEW events_table AS SELECT *, file_row_number AS seq "
                            f"FROM read_parquet('{events}', file_row_number = true)")
                steps = statements(sql(name, "carts", extra, events_arg="events_table"))
                for s in steps[:-1]:
                    con.execute(s)
                out = work / f"{name}_table_carts.parquet"
                pq.write_table(con.query(steps[-1]), out)
                con.close()
                checks.check(f"{name}: carts rows from a table ({label}) equal `cartlift paths`",
                             compare_carts(out, work / "carts.parquet"))

        # Path tables, one per treatment arm.
        table = results["paths"].to_pylist()
        for report in attribute:
            arm = report["arm"]
            rows = [r for r in table if r["arm"] == arm]
            path_csv = work / f"{name}_paths_{arm}.csv"
            with open(path_csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["path", "total_conversions", "total_conversion_value", "total_null"])
                for r in rows:
                    w.writerow([r["path"], repr(float(r["total_conversions"])),
                                repr(float(r["total_conversion_value"])), repr(float(r["total_null"]))])
            out = work / f"{name}_credit_{arm}.json"
            run([bin_, "attribute", "--paths", path_csv, "--json", out])
            credit = json.loads(out.read_text())
            journeys = sum(r["total_conversions"] + r["total_null"] for r in rows)
            problems = compare_credit(credit, report["credit"])
            if journeys != report["journeys"]:
                problems.append(f"journeys {journeys} != {report['journeys']}")
            checks.check(f"{name}: `attribute --paths` equals `attribute` for arm {arm} "
                         f"({len(rows)} paths, {int(journeys)} journeys)", problems)

    print(f"{checks.passed} passed, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
