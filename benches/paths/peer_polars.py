#!/usr/bin/env python3
"""Peer of `cartlift paths`: flow reconstruction in Python Polars (lazy API).

    python peer_polars.py EVENTS.parquet --flow FLOW.toml --out CARTS.parquet

Same input, rules and output columns as peer_duckdb.py (see its module doc
and cartlift's src/flow/reconstruct.rs): one row per flow entry with
entry_id, customer_id, arm, entered_at, cart_id, converted, order_id,
order_value, refunded, cancelled, revenue, discount, ordered by customer id
then entry ordinal.

Where this departs from a single lazy query:
- The reentry cooldown is sequential per customer (a candidate counts only
  if it comes `cooldown` after the last *entry*). Each candidate's successor
  comes from a lazy `join_asof`; the chain of successors from a customer's
  first candidate is then followed in a short Python loop of joins over the
  collected candidates (one round per entry ordinal, a handful).
- Polars has no SHA-256 expression: the arm bucket is computed with hashlib
  over the unique customer ids that have entries (`map_batches`).
- Order matching: when reentry_cooldown >= attribution_window (the sample
  flow) a customer's windows never overlap and lazy joins match orders to
  entries exactly; otherwise cartlift's sequential rule (an order skips
  entries already converted) is followed in a Python loop of joins, one
  round per order of a customer.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time

import polars as pl

import flow_params
from flow_params import EVENT_CODES

INF = 2**62  # "no next activity" sentinel, in microseconds
KEY = ["customer_id", "t", "k", "rn"]  # cartlift's walk order within a customer


def events(path: str) -> pl.LazyFrame:
    """Valid events, as cartlift's reader keeps them: a known event name, a
    timestamp and a non-empty customer id; empty ids count as missing, NaN as
    null. `rn` is the file row, the last tie-break."""

    def blank_to_null(name: str) -> pl.Expr:
        c = pl.col(name).cast(pl.String)
        return pl.when(c == "").then(None).otherwise(c).alias(name)

    return (
        pl.scan_parquet(path)
        .with_row_index("rn")
        .select(
            "rn",
            pl.col("ts").dt.epoch("us").alias("t"),
            pl.col("event").replace_strict(EVENT_CODES, default=None, return_dtype=pl.Int8).alias("k"),
            pl.col("customer_id").cast(pl.String),
            blank_to_null("cart_id"),
            blank_to_null("order_id"),
            pl.col("value").cast(pl.Float64).fill_nan(None),
            pl.col("discount").cast(pl.Float64).fill_nan(None),
        )
        .filter(
            pl.col("t").is_not_null()
            & pl.col("k").is_not_null()
            & pl.col("customer_id").is_not_null()
            & (pl.col("customer_id") != "")
        )
    )


def candidates(ev: pl.LazyFrame, p: flow_params.FlowParams, data_end: int) -> pl.LazyFrame:
    """Abandoned carts before the cooldown, one row per candidate (see
    peer_duckdb.py for the run rule)."""
    aa = p.abandon_after
    c = pl.col
    act = (
        ev.filter(c("k") <= 2)
        .select("customer_id", "t", "k", "rn", "cart_id")
        .sort(KEY)
        .with_columns(
            brk=(
                (c("customer_id") != c("customer_id").shift(1))
                | (c("k").shift(1) == 2)
                | (c("t") - c("t").shift(1) > aa)
            ).fill_null(True),
            next_t=pl.when(c("customer_id") == c("customer_id").shift(-1))
            .then(c("t").shift(-1))
            .otherwise(INF),
        )
    )
    # Cart events only; every run starts with brk, so a global cumulative sum
    # numbers runs and a forward fill of (opener -> 1, run start -> 0) marks
    # the events at or after the run's first opener.
    return (
        act.filter(c("k") <= 1)
        .with_columns(
            run=c("brk").cast(pl.UInt32).cum_sum(),
            open=pl.when(c("k").is_in(list(p.opener_codes)))
            .then(1)
            .when(c("brk"))
            .then(0)
            .otherwise(None)
            .forward_fill(),
        )
        .filter(c("open") == 1)
        .group_by("run")  # row order within a group is preserved
        .agg(
            c("customer_id").first(),
            c("t").last().alias("last_t"),
            c("cart_id").drop_nulls().last(),
            c("next_t").last(),
        )
        .filter(
            ((c("next_t") < INF) & (c("next_t") - c("last_t") > aa))
            | ((c("next_t") == INF) & (c("last_t") + aa <= data_end))
        )
        .select("customer_id", (c("last_t") + aa).alias("entered"), "cart_id")
        .sort("customer_id", "entered")
        .with_columns(ci=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("customer_id"))
    )


def entries(cand: pl.DataFrame, p: flow_params.FlowParams) -> pl.DataFrame:
    """The cooldown: entries are the chain of successors from each customer's
    first candidate (successor = first candidate >= cooldown later)."""
    c = pl.col
    left = cand.lazy().select("customer_id", "ci", (c("entered") + p.cooldown).alias("target")).sort("target")
    right = cand.lazy().select("customer_id", c("entered").alias("r_entered"), c("ci").alias("next_ci")).sort(
        "r_entered"
    )
    succ = (
        left.join_asof(right, left_on="target", right_on="r_entered", by="customer_id", strategy="forward",
                       check_sortedness=False)  # both sides are sorted on the key
        .filter(c("next_ci").is_not_null())
        .select("customer_id", "ci", "next_ci")
        .collect()
    )
    frontier = cand.filter(c("ci") == 1).select("customer_id", "ci", pl.lit(1, pl.UInt32).alias("ordinal"))
    chain = [frontier]
    while frontier.height:
        frontier = frontier.join(succ, on=["customer_id", "ci"]).select(
            "customer_id", c("next_ci").alias("ci"), c("ordinal") + 1
        )
        chain.append(frontier)
    return pl.concat(chain).join(cand, on=["customer_id", "ci"]).drop("ci")


def bucket_expr(salt: str) -> pl.Expr:
    prefix = salt.encode()

    def buckets(s: pl.Series) -> pl.Series:
        return pl.Series(
            [int.from_bytes(hashlib.sha256(prefix + x.encode()).digest()[:4], "big") % 10_000 for x in s],
            dtype=pl.UInt32,
        )

    return pl.col("customer_id").map_batches(buckets, return_dtype=pl.UInt32)


def arm_expr(p: flow_params.FlowParams) -> pl.Expr:
    expr = pl.lit(p.arms[-1].name)
    for a in reversed(p.arms[:-1]):
        expr = pl.when(pl.col("bucket") < a.upper).then(pl.lit(a.name)).otherwise(expr)
    return expr


def land_sequentially(pairs: pl.DataFrame) -> pl.DataFrame:
    """Windows overlap: cartlift's matching is sequential (an order skips
    entries already converted). Walks each customer's k-th order in round k,
    all customers at once, keeping the converted entries in `taken`."""
    order_index = (
        pairs.select("customer_id", "t", "rn")
        .unique()
        .sort("customer_id", "t", "rn")
        .with_columns(oi=pl.int_range(pl.len()).over("customer_id"))
    )
    rounds = pairs.join(order_index.drop("t"), on=["customer_id", "rn"]).partition_by("oi", as_dict=True)
    taken = pl.DataFrame(schema={"customer_id": pl.String, "ordinal": pl.UInt32, "rn": pl.UInt32})
    for key in sorted(rounds):
        pick = (
            rounds[key]
            .join(taken, on=["customer_id", "ordinal"], how="anti")
            .sort("pref", descending=True)
            .unique(subset=["customer_id"], keep="first")
            .select(taken.columns)
        )
        taken = pl.concat([taken, pick.cast(taken.schema)])
    return taken


def reconstruct(path: str, p: flow_params.FlowParams, engine: str) -> pl.DataFrame:
    c = pl.col
    ev = events(path)
    data_end = ev.select(c("t").max()).collect(engine=engine).item()
    data_end = -INF if data_end is None else data_end
    cand = candidates(ev, p, data_end).collect(engine=engine)
    ent = entries(cand, p)
    customers = ent.select("customer_id").unique().with_columns(bucket=bucket_expr(p.salt))
    ent = ent.join(customers, on="customer_id").lazy()

    # Order ids count once per customer (first in walk order; null ids as one).
    orders = (
        ev.filter(c("k") == 2)
        .select("customer_id", "t", "rn", "order_id", "cart_id", "value", "discount")
        .sort("customer_id", "t", "rn")
        .unique(subset=["customer_id", "order_id"], keep="first", maintain_order=True)
    )
    # An order may land on an entry whose window (entered, entered + window]
    # holds it; `pref` ranks those entries as cartlift does: the order's
    # cart first, then the latest.
    pairs = (
        orders.join(
            ent.select("customer_id", "ordinal", "entered", c("cart_id").alias("e_cart")),
            on="customer_id",
        )
        .filter((c("t") > c("entered")) & (c("t") <= c("entered") + p.window))
        .select(
            "customer_id",
            "t",
            "rn",
            "ordinal",
            ((c("cart_id") == c("e_cart")).fill_null(False).cast(pl.Int64) * 2**32 + c("ordinal")).alias("pref"),
        )
    )
    if p.cooldown >= p.window:
        # A customer's windows are disjoint (entries are >= cooldown apart):
        # an order has at most one entry to land on, and the entry keeps the
        # first order that lands on it.
        landed = (
            pairs.sort(["rn", "pref"], descending=[False, True])
            .unique(subset=["rn"], keep="first", maintain_order=True)
            .sort("customer_id", "ordinal", "t", "rn")
            .unique(subset=["customer_id", "ordinal"], keep="first", maintain_order=True)
            .select("customer_id", "ordinal", "rn")
        )
    else:
        landed = land_sequentially(pairs.collect(engine=engine)).lazy()
    outcome = (
        landed.join(orders, on=["customer_id", "rn"])
        .join(ent.select("customer_id", "ordinal", "entered"), on=["customer_id", "ordinal"])
        .select(
            "customer_id",
            "ordinal",
            "entered",
            c("t").alias("order_t"),
            "order_id",
            c("value").fill_null(0.0).alias("order_value"),
            c("discount").fill_null(0.0),
        )
    )
    adjust = (
        outcome.join(
            ev.filter(c("k").is_in([3, 4])).select(
                "customer_id", "order_id", c("t").alias("r_t"), c("k").alias("r_k"), c("value").alias("r_value")
            ),
            on=["customer_id", "order_id"],
            nulls_equal=True,
        )
        .filter((c("r_t") >= c("order_t")) & (c("r_t") <= c("entered") + p.window))
        .group_by("customer_id", "ordinal")
        .agg(
            c("r_value").filter(c("r_k") == 3).sum().alias("refunded"),
            (c("r_k") == 4).any().alias("cancelled"),
        )
    )
    converted = c("order_t").is_not_null()
    cancelled = c("cancelled").fill_null(False)
    refunded = c("refunded").fill_null(0.0)
    return (
        ent.join(outcome.drop("entered"), on=["customer_id", "ordinal"], how="left")
        .join(adjust, on=["customer_id", "ordinal"], how="left")
        .sort("customer_id", "ordinal")
        .select(
            (c("customer_id") + "#" + c("ordinal").cast(pl.String)).alias("entry_id"),
            "customer_id",
            arm_expr(p).alias("arm"),
            pl.from_epoch(c("entered"), time_unit="us").alias("entered_at"),
            "cart_id",
            converted.alias("converted"),
            "order_id",
            c("order_value").fill_null(0.0),
            refunded.alias("refunded"),
            cancelled.alias("cancelled"),
            pl.when(converted & ~cancelled)
            .then(c("order_value") - refunded)
            .otherwise(0.0)
            .alias("revenue"),
            c("discount").fill_null(0.0),
        )
        .collect(engine=engine)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", help="canonical events Parquet file")
    ap.add_argument("--flow", required=True, help="flow TOML (cartlift's format)")
    ap.add_argument("--out", required=True, help="carts Parquet to write")
    # Streaming was both faster and leaner than the in-memory engine here.
    ap.add_argument("--engine", default="streaming", choices=["auto", "in-memory", "streaming"],
                    help="Polars collect engine (default: streaming)")
    args = ap.parse_args()

    params = flow_params.load(args.flow)
    start = time.perf_counter()
    carts = reconstruct(args.events, params, args.engine)
    carts.write_parquet(args.out)
    print(f"polars {pl.__version__}: {carts.height} entries in {time.perf_counter() - start:.2f}s -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
