#!/usr/bin/env python3
"""A stratified 70/30 train/test split of the Hillstrom e-mail test for
`cartlift policy --units ... --split-col part` (the figures in the README's
"Learned targeting" section).

Keeps the rows of two arms (default: "Womens E-Mail" and "No E-Mail"), and
within each stratum (arm × outcome, default outcome `visit`) shuffles the
rows with Python's `random.Random(SEED)` and marks the first 70% (rounded)
`train`, the rest `test`. Writes the kept rows, in input order, with a `part`
column added. Standard library only; the same seed gives the same file.

  python3 tests/reference/hillstrom_split.py hillstrom.csv womens_split.csv [SEED]

The data is Kevin Hillstrom's MineThatData E-Mail Analytics and Data Mining
Challenge (March 2008): 64,000 customers, one third each e-mailed a men's
or a women's campaign or nothing, with visit, conversion and spend in the
following two weeks.
"""

import csv
import random
import sys

ARMS = ("Womens E-Mail", "No E-Mail")
OUTCOME = "visit"
TRAIN_SHARE = 0.7
DEFAULT_SEED = 20080301


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else DEFAULT_SEED
    with open(source, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames + ["part"]
        rows = [r for r in reader if r["segment"] in ARMS]
    strata = {}
    for i, r in enumerate(rows):
        strata.setdefault((r["segment"], r[OUTCOME]), []).append(i)
    rng = random.Random(seed)
    part = [None] * len(rows)
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        cut = round(TRAIN_SHARE * len(members))
        for j, i in enumerate(members):
            part[i] = "train" if j < cut else "test"
    with open(target, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r, p in zip(rows, part):
            r["part"] = p
            w.writerow(r)
    print(f"{target}: {part.count('train')} train, {part.count('test')} test (seed {seed})")


if __name__ == "__main__":
    main()
