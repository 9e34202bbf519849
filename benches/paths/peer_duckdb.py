#!/usr/bin/env python3
"""Peer of `cartlift paths`: flow reconstruction in DuckDB SQL.

    python peer_duckdb.py EVENTS.parquet --flow FLOW.toml --out CARTS.parquet

Reads canonical events (ts, event, customer_id, cart_id, order_id, value,
discount, ...) and writes one row per flow entry: entry_id, customer_id,
arm, entered_at, cart_id, converted, order_id, order_value, refunded,
cancelled, revenue, discount, ordered by customer id then entry ordinal, as
cartlift's carts.parquet is.

The rules are cartlift's (src/flow/reconstruct.rs); how each is expressed
in SQL is noted where it is done. Every event of a customer is ordered by
(ts, event code, file row), the tie-break cartlift walks them in.

Order matching: cartlift lands each order on an *open* entry (entered
before it, window not over, not yet converted), preferring the entry of
the order's cart, else the latest. When the reentry cooldown is at least
the attribution window (the sample flow: 14d vs 7d) a customer's windows
never overlap and plain joins give exactly that; otherwise the sequential
"not yet converted" rule is followed with a recursive CTE.
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb

import flow_params
from flow_params import EVENT_CODES

INF = 2**62  # "no next activity" sentinel, in microseconds


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def kind_case(column: str) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {code}" for name, code in EVENT_CODES.items())
    return f"CASE {column} {whens} END"


def arm_case(params: flow_params.FlowParams, bucket: str) -> str:
    last = sql_str(params.arms[-1].name)
    whens = " ".join(f"WHEN {bucket} < {a.upper} THEN {sql_str(a.name)}" for a in params.arms[:-1])
    return f"CASE {whens} ELSE {last} END" if whens else last


def reconstruct(con: duckdb.DuckDBPyConnection, events: str, params: flow_params.FlowParams, out: str) -> None:
    aa, cool, win = params.abandon_after, params.cooldown, params.window
    openers = ", ".join(str(c) for c in params.opener_codes)

    # Valid events only, as cartlift's reader: a known event name, a
    # timestamp and a non-empty customer id (other rows are skipped and do not
    # move the end of the data). Empty ids count as missing; NaN as null.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW ev AS
        SELECT file_row_number AS rn,
               epoch_us(ts) AS t,
               {kind_case('event')} AS k,
               customer_id,
               NULLIF(cart_id, '') AS cart_id,
               NULLIF(order_id, '') AS order_id,
               CASE WHEN isnan(value::DOUBLE) THEN NULL ELSE value::DOUBLE END AS value,
               CASE WHEN isnan(discount::DOUBLE) THEN NULL ELSE discount::DOUBLE END AS discount
        FROM read_parquet({sql_str(events)}, file_row_number = true)
        WHERE ts IS NOT NULL AND customer_id IS NOT NULL AND customer_id <> ''
          AND event IN ({", ".join(f"'{e}'" for e in EVENT_CODES)})
        """
    )
    # cartlift's data_end: candidates (and windows) past it are incomplete.
    (data_end,) = con.execute("SELECT max(t) FROM ev").fetchone()
    data_end = -INF if data_end is None else data_end

    # Candidates. Over a customer's activity events (cart_updated,
    # checkout_started, order_completed), a cart event starts a new run when it
    # is the customer's first activity, follows an order, or comes more than
    # abandon_after after the previous cart event. Inside a run the candidate
    # opens at the first opener (checkout_started for the sample flow) and
    # every later cart event extends it; its cart is the last non-null cart id
    # among those events. It becomes abandoned (an entry, at last activity +
    # abandon_after) if the next activity after it is more than abandon_after
    # later; an order within abandon_after closes it; with no next activity it
    # is abandoned only if last activity + abandon_after <= data_end, else
    # pending. Duplicate orders also close candidates, as in cartlift.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cand AS
        WITH act AS (
            SELECT customer_id, t, k, cart_id,
                   row_number() OVER w AS seq,
                   lag(t) OVER w AS prev_t,
                   lag(k) OVER w AS prev_k,
                   coalesce(lead(t) OVER w, {INF}) AS next_t
            FROM ev WHERE k <= 2
            WINDOW w AS (PARTITION BY customer_id ORDER BY t, k, rn)
        ), runs AS (
            SELECT *,
                   sum(CASE WHEN prev_t IS NULL OR prev_k = 2 OR t - prev_t > {aa} THEN 1 ELSE 0 END)
                       OVER (PARTITION BY customer_id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run
            FROM act WHERE k <= 1
        ), opened AS (
            SELECT *,
                   max(CASE WHEN k IN ({openers}) THEN 1 ELSE 0 END)
                       OVER (PARTITION BY customer_id, run ORDER BY seq ROWS UNBOUNDED PRECEDING) AS open
            FROM runs
        ), cands AS (
            SELECT customer_id,
                   max(t) AS last_t,
                   arg_max(cart_id, seq) FILTER (WHERE cart_id IS NOT NULL) AS cart_id,
                   arg_max(next_t, seq) AS next_t
            FROM opened WHERE open = 1
            GROUP BY customer_id, run
        )
        SELECT customer_id,
               last_t + {aa} AS entered,
               cart_id,
               row_number() OVER (PARTITION BY customer_id ORDER BY last_t) AS ci
        FROM cands
        WHERE (next_t < {INF} AND next_t - last_t > {aa})
           OR (next_t = {INF} AND last_t + {aa} <= {data_end})
        """
    )

    # Reentry cooldown. cartlift's rule is sequential: a candidate becomes an
    # entry if it comes at least `cooldown` after the customer's last *entry*
    # (suppressed candidates do not restart the clock). Each candidate's
    # successor (the first candidate at least `cooldown` after it) comes from
    # an ASOF join (which DuckDB does not allow inside a recursive CTE, hence
    # its own table); the entries are the chain of successors from the first
    # candidate, followed by a recursive CTE (as many rounds as a customer has
    # entries, a handful).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE succ AS
        SELECT a.customer_id, a.ci, b.ci AS next_ci
        FROM cand a ASOF JOIN cand b
          ON a.customer_id = b.customer_id AND a.entered + {cool} <= b.entered
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE entries AS
        WITH RECURSIVE chain(customer_id, ci, ordinal) AS (
            SELECT customer_id, ci, 1 FROM cand WHERE ci = 1
            UNION ALL
            SELECT s.customer_id, s.next_ci, c.ordinal + 1
            FROM chain c JOIN succ s ON s.customer_id = c.customer_id AND s.ci = c.ci
        )
        SELECT c.customer_id, c.ordinal, d.entered, d.cart_id,
               ('0x' || substr(sha256($salt || c.customer_id), 1, 8))::UBIGINT % 10000 AS bucket
        FROM chain c JOIN cand d USING (customer_id, ci)
        """,
        {"salt": params.salt},
    )

    # Outcomes. Order ids count once per customer (the first occurrence in
    # walk order; all null ids count as one id, as cartlift's set does).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE orders AS
        SELECT customer_id, t, rn, order_id, cart_id,
               coalesce(value, 0) AS value, coalesce(discount, 0) AS discount
        FROM ev WHERE k = 2
        QUALIFY row_number() OVER (PARTITION BY customer_id, order_id ORDER BY t, rn) = 1
        """
    )
    # An order may land on an entry whose window (entered, entered + window]
    # holds it; `pref` ranks those entries as cartlift does: the order's cart
    # first, then the latest.
    pairs = f"""
        SELECT o.customer_id, o.t, o.rn, e.ordinal,
               CASE WHEN o.cart_id = e.cart_id THEN {2**32} ELSE 0 END + e.ordinal AS pref
        FROM orders o JOIN entries e
          ON o.customer_id = e.customer_id AND o.t > e.entered AND o.t <= e.entered + {win}
    """
    if params.cooldown >= params.window:
        # A customer's windows are disjoint (entries are >= cooldown apart):
        # an order has at most one entry to land on, and the entry keeps the
        # first order that lands on it.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE landed AS
            WITH hits AS (
                {pairs}
                QUALIFY row_number() OVER (PARTITION BY o.rn ORDER BY pref DESC) = 1
            )
            SELECT customer_id, ordinal, rn FROM hits
            QUALIFY row_number() OVER (PARTITION BY customer_id, ordinal ORDER BY t, rn) = 1
            """
        )
    else:
        # Windows overlap: cartlift's matching is sequential (an order skips
        # entries already converted), so walk each customer's orders in
        # order with a recursive CTE carrying the converted entries as a
        # list; one round per order (a null candidate keeps orders that find
        # every entry taken in the walk).
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT customer_id, dense_rank() OVER (PARTITION BY customer_id ORDER BY t, rn) AS oi,
                   rn, ordinal, pref
            FROM ({pairs});
            INSERT INTO pairs SELECT DISTINCT customer_id, oi, rn, NULL, -1 FROM pairs;
            CREATE OR REPLACE TEMP TABLE landed AS
            WITH RECURSIVE walk(customer_id, oi, taken, rn, ordinal) AS (
                SELECT DISTINCT customer_id, 0::BIGINT, []::BIGINT[], NULL::BIGINT, NULL::BIGINT FROM pairs
                UNION ALL
                SELECT w.customer_id, p.oi,
                       CASE WHEN p.ordinal IS NULL THEN w.taken ELSE list_append(w.taken, p.ordinal) END,
                       p.rn, p.ordinal
                FROM walk w JOIN pairs p
                  ON p.customer_id = w.customer_id AND p.oi = w.oi + 1
                 AND (p.ordinal IS NULL OR NOT list_contains(w.taken, p.ordinal))
                QUALIFY row_number() OVER (PARTITION BY w.customer_id ORDER BY p.pref DESC) = 1
            )
            SELECT customer_id, ordinal, rn FROM walk WHERE ordinal IS NOT NULL
            """
        )

    # Refunds and cancellations of the landed order's id count when they come
    # at or after the order (they sort after it on equal timestamps) and at
    # most `window` after entry.
    con.execute(
        f"""
        COPY (
            WITH outcome AS (
                SELECT l.customer_id, l.ordinal, e.entered, o.t, o.order_id, o.value, o.discount
                FROM landed l
                JOIN orders o ON o.rn = l.rn
                JOIN entries e ON e.customer_id = l.customer_id AND e.ordinal = l.ordinal
            ), adjust AS (
                SELECT o.customer_id, o.ordinal,
                       coalesce(sum(r.value) FILTER (WHERE r.k = 3), 0) AS refunded,
                       bool_or(r.k = 4) AS cancelled
                FROM outcome o JOIN ev r
                  ON r.customer_id = o.customer_id AND r.order_id IS NOT DISTINCT FROM o.order_id
                 AND r.t >= o.t AND r.t <= o.entered + {win}
                WHERE r.k IN (3, 4)
                GROUP BY o.customer_id, o.ordinal
            )
            SELECT e.customer_id || '#' || e.ordinal AS entry_id,
                   e.customer_id,
                   {arm_case(params, 'e.bucket')} AS arm,
                   make_timestamp(e.entered) AS entered_at,
                   e.cart_id,
                   o.t IS NOT NULL AS converted,
                   o.order_id,
                   coalesce(o.value, 0) AS order_value,
                   coalesce(a.refunded, 0) AS refunded,
                   coalesce(a.cancelled, false) AS cancelled,
                   CASE WHEN o.t IS NULL OR coalesce(a.cancelled, false) THEN 0
                        ELSE o.value - coalesce(a.refunded, 0) END AS revenue,
                   coalesce(o.discount, 0) AS discount
            FROM entries e
            LEFT JOIN outcome o USING (customer_id, ordinal)
            LEFT JOIN adjust a USING (customer_id, ordinal)
            ORDER BY e.customer_id, e.ordinal
        ) TO {sql_str(out)} (FORMAT parquet)
        """
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", help="canonical events Parquet file")
    ap.add_argument("--flow", required=True, help="flow TOML (cartlift's format)")
    ap.add_argument("--out", required=True, help="carts Parquet to write")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 8GB")
    args = ap.parse_args()

    params = flow_params.load(args.flow)
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    if args.memory_limit:
        con.execute("SET memory_limit = $m", {"m": args.memory_limit})
    start = time.perf_counter()
    reconstruct(con, args.events, params, args.out)
    n = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": args.out}).fetchone()[0]
    print(f"duckdb {duckdb.__version__}: {n} entries in {time.perf_counter() - start:.2f}s -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
