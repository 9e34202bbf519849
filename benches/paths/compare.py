#!/usr/bin/env python3
"""Checks a peer's carts against cartlift's carts.parquet.

    python compare.py PEER.parquet CARTLIFT.parquet [--name duckdb] [--show 10]

Prints, per arm, entries, conversions and net revenue on both sides, then
row-level agreement on (entry_id, converted, revenue): entries present on
one side only, and shared entries whose converted flag or revenue differ
(revenue within --tol, default 0.005, i.e. half a cent). Exits 1 on any
difference, 0 when the peer agrees exactly.
"""

from __future__ import annotations

import argparse
import sys

import polars as pl

COLUMNS = ["entry_id", "arm", "converted", "revenue"]


def load(path: str) -> pl.DataFrame:
    return pl.read_parquet(path, columns=COLUMNS).with_columns(
        pl.col("converted").cast(pl.Boolean), pl.col("revenue").cast(pl.Float64)
    )


def per_arm(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by("arm").agg(
        pl.len().alias("entries"),
        pl.col("converted").sum().alias("converted"),
        pl.col("revenue").sum().alias("revenue"),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", help="the peer's carts Parquet")
    ap.add_argument("cartlift", help="cartlift's carts.parquet")
    ap.add_argument("--name", default="peer", help="label of the peer in the output")
    ap.add_argument("--tol", type=float, default=0.005, help="revenue tolerance per entry")
    ap.add_argument("--show", type=int, default=10, help="mismatching rows to print per kind")
    args = ap.parse_args()

    peer, ref = load(args.peer), load(args.cartlift)
    ok = True

    arms = per_arm(ref).join(per_arm(peer), on="arm", how="full", suffix="_peer", coalesce=True).sort("arm")
    print(f"## {args.name} vs cartlift")
    print()
    print("| arm | entries (cartlift / peer) | converted (cartlift / peer) | revenue (cartlift / peer) |")
    print("|---|---:|---:|---:|")
    for r in arms.iter_rows(named=True):
        same = (
            r["entries"] == r["entries_peer"]
            and r["converted"] == r["converted_peer"]
            and r["revenue"] is not None
            and r["revenue_peer"] is not None
            and abs(r["revenue"] - r["revenue_peer"]) <= args.tol + 1e-9 * abs(r["revenue"])
        )
        ok &= same
        mark = "" if same else " **differs**"
        rev = lambda v: "-" if v is None else f"{v:,.2f}"
        print(
            f"| {r['arm']}{mark} | {r['entries']} / {r['entries_peer']} | {r['converted']} / "
            f"{r['converted_peer']} | {rev(r['revenue'])} / {rev(r['revenue_peer'])} |"
        )
    print()

    dup = {n: df.height - df["entry_id"].n_unique() for n, df in (("cartlift", ref), (args.name, peer))}
    for n, d in dup.items():
        if d:
            ok = False
            print(f"{n}: {d} duplicate entry_id rows")

    joined = ref.join(peer, on="entry_id", how="full", suffix="_peer", coalesce=True)
    only_ref = joined.filter(pl.col("converted_peer").is_null() & pl.col("arm").is_not_null())
    only_peer = joined.filter(pl.col("converted").is_null())
    both = joined.filter(pl.col("converted").is_not_null() & pl.col("converted_peer").is_not_null())
    arm_diff = both.filter(pl.col("arm") != pl.col("arm_peer"))
    conv_diff = both.filter(pl.col("converted") != pl.col("converted_peer"))
    rev_diff = both.filter((pl.col("revenue") - pl.col("revenue_peer")).abs() > args.tol)
    matching = both.height - both.filter(
        (pl.col("arm") != pl.col("arm_peer"))
        | (pl.col("converted") != pl.col("converted_peer"))
        | ((pl.col("revenue") - pl.col("revenue_peer")).abs() > args.tol)
    ).height

    print(
        f"rows: cartlift {ref.height}, {args.name} {peer.height}; identical on "
        f"(entry_id, arm, converted, revenue): {matching} "
        f"({100.0 * matching / max(1, ref.height):.3f} % of cartlift's)"
    )
    for label, df in (
        ("only in cartlift", only_ref),
        (f"only in {args.name}", only_peer),
        ("arm differs", arm_diff),
        ("converted differs", conv_diff),
        ("revenue differs", rev_diff),
    ):
        if df.height:
            ok = False
            print(f"- {label}: {df.height}")
            with pl.Config(tbl_rows=args.show, tbl_cols=-1, tbl_width_chars=160):
                print(df.head(args.show))
    print("agreement: exact" if ok else "agreement: DIFFERS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
