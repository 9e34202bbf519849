#!/usr/bin/env python3
"""Writes the benchmark path table: one row per journey (conversions 0/1,
nulls 1/0) over 20 channels, from a fixed seed, so both tools read the same
bytes and must aggregate identical paths themselves.

Usage: python generate_paths.py OUT.csv [JOURNEYS]   (default 3,000,000)
Needs numpy (any 1.2x); the output depends only on the seed and numpy's
PCG64 stream.
"""

import sys

import numpy as np

SEED = 20240611
CHANNELS = 20
MAX_TOUCHES = 15


def main():
    out = sys.argv[1]
    journeys = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000_000
    rng = np.random.Generator(np.random.PCG64(SEED))
    names = np.array([f"ch{c:02d}" for c in range(CHANNELS)])
    start = rng.dirichlet(np.ones(CHANNELS) * 0.7)
    trans = rng.dirichlet(np.ones(CHANNELS) * 0.5, size=CHANNELS)
    trans = 0.8 * trans + 0.2 * np.eye(CHANNELS)  # repeated touches
    cum = np.cumsum(trans, axis=1)
    lift = rng.uniform(0.005, 0.06, CHANNELS)

    lengths = np.minimum(rng.geometric(0.32, journeys), MAX_TOUCHES)
    touches = np.full((journeys, MAX_TOUCHES), -1, dtype=np.int64)
    touches[:, 0] = rng.choice(CHANNELS, size=journeys, p=start)
    for step in range(1, MAX_TOUCHES):
        alive = lengths > step
        prev = touches[alive, step - 1]
        u = rng.random(alive.sum())
        touches[alive, step] = (u[:, None] > cum[prev]).sum(axis=1).clip(max=CHANNELS - 1)

    seen = np.zeros((journeys, CHANNELS), dtype=bool)
    rows = np.repeat(np.arange(journeys), MAX_TOUCHES)
    flat = touches.ravel()
    seen[rows[flat >= 0], flat[flat >= 0]] = True
    p_conv = 1 - np.prod(np.where(seen, 1 - lift, 1.0), axis=1)
    converted = rng.random(journeys) < p_conv
    value = np.where(converted, np.round(rng.lognormal(4.0, 0.7, journeys), 2), 0.0)

    with open(out, "w") as f:
        f.write("path,total_conversions,total_conversion_value,total_null\n")
        chunk = 200_000
        for lo in range(0, journeys, chunk):
            hi = min(lo + chunk, journeys)
            lines = []
            for i in range(lo, hi):
                path = " > ".join(names[touches[i, : lengths[i]]])
                c = int(converted[i])
                lines.append(f"{path},{c},{value[i]:.2f},{1 - c}\n")
            f.write("".join(lines))
    print(f"wrote {journeys} journeys, {int(converted.sum())} conversions, to {out}")


if __name__ == "__main__":
    main()
