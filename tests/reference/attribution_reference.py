#!/usr/bin/env python3
"""Reference values for cartlift's attribution models.

Writes, next to this script:
  data/paths.csv      a small path table (fixed seed), the models' input
  data/expected.json  reference credit the Rust unit tests compare against

Two independent references:
  * ChannelAttribution (GPL; only its outputs are used, never its code):
    heuristic_models first/last/linear, which the Rust models must match to
    rounding, and markov_model (simulated) at order 1, which the exact Rust
    solution must match within the simulation's spread over several seeds.
  * numpy, written here from the definitions in src/attribution/*.rs docs:
    exact absorbing-chain Markov of orders 1-4 via the fundamental matrix
    N = (I - Q)^-1, position-based, time decay without ages, and Shapley
    (simplified and ordered). The Rust tests match these to 1e-9.

Run (from the repository root; pinned versions, ChannelAttribution compiles
C++ so gcc/g++ must be installed; it imports matplotlib without declaring it):

  python3 -m venv .venv-ref
  .venv-ref/bin/pip install numpy==1.26.4 pandas==1.5.3 matplotlib==3.8.4 \
      ChannelAttribution==2.2.5
  .venv-ref/bin/python tests/reference/attribution_reference.py

Python 3.11. The output is deterministic for these versions.
"""

import json
import os
import sys
from collections import defaultdict

import numpy as np
import pandas as pd

SEED = 20240611
CHANNELS = ["email", "sms", "push", "paid_search", "organic"]
JOURNEYS = 2000
MAX_TOUCHES = 8
DAY = 86400.0
HALF_LIFE = 7 * DAY
CA_SEEDS = list(range(1, 11))
# ChannelAttribution truncates simulated journeys at max_step (default: the
# longest path in the data), which biases removal effects low. The exact
# chain has no such cap, so we compare against runs with a cap far beyond
# any plausible simulated path.
CA_MAX_STEP = 1000
CA_NSIM = 1e6

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


# ---------------------------------------------------------------- data


def generate_paths(rng):
    """Journeys from a small first-order flow with repeats, aggregated into
    a path table (path, total_conversions, total_conversion_value,
    total_null)."""
    k = len(CHANNELS)
    start = np.array([0.35, 0.1, 0.1, 0.3, 0.15])
    trans = rng.dirichlet(np.ones(k) * 0.8, size=k)
    # Repeats are common in recovery flows (email, email, sms): make sure
    # the collapse rule is exercised.
    trans = 0.75 * trans + 0.25 * np.eye(k)
    lift = np.array([0.05, 0.09, 0.02, 0.07, 0.04])
    rows = defaultdict(lambda: [0, 0.0, 0])
    for _ in range(JOURNEYS):
        length = min(int(rng.geometric(0.38)), MAX_TOUCHES)
        path = [int(rng.choice(k, p=start))]
        for _ in range(length - 1):
            path.append(int(rng.choice(k, p=trans[path[-1]])))
        p_conv = 1 - np.prod([1 - lift[c] for c in set(path)]) + 0.01 * (path[-1] == 1)
        key = " > ".join(CHANNELS[c] for c in path)
        if rng.random() < p_conv:
            rows[key][0] += 1
            rows[key][1] += round(float(rng.lognormal(4.0, 0.6)), 2)
        else:
            rows[key][2] += 1
    df = pd.DataFrame(
        [(p, c, round(v, 2), n) for p, (c, v, n) in rows.items()],
        columns=["path", "total_conversions", "total_conversion_value", "total_null"],
    )
    return df.sort_values("path", kind="mergesort").reset_index(drop=True)


def parse(df):
    """(touches, conversions, value, nulls) per row, channels by name."""
    return [
        ([t.strip() for t in p.split(">")], float(c), float(v), float(n))
        for p, c, v, n in df[
            ["path", "total_conversions", "total_conversion_value", "total_null"]
        ].itertuples(index=False)
    ]


# ---------------------------------------------------------- heuristics


def weighted_credit(rows, weights):
    conv = defaultdict(float)
    val = defaultdict(float)
    for touches, c, v, _ in rows:
        if c <= 0 and v <= 0:
            continue
        for t, w in zip(touches, weights(len(touches))):
            conv[t] += w * c
            val[t] += w * v
    return conv, val


def position_weights(n):
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]


def time_decay_weights(n):
    # No ages in a path table: touches one day apart, the last at 0.
    ages = np.arange(n - 1, -1, -1) * DAY
    w = 2.0 ** (-ages / HALF_LIFE)
    return list(w / w.sum())


def shapley(rows, ordered):
    worth = defaultdict(lambda: [0.0, 0.0])
    for touches, c, v, _ in rows:
        if c <= 0 and v <= 0:
            continue
        seq = list(dict.fromkeys(touches))
        key = tuple(seq) if ordered else tuple(sorted(seq))
        worth[key][0] += c
        worth[key][1] += v
    conv, val = defaultdict(float), defaultdict(float)
    pos_conv = defaultdict(lambda: defaultdict(float))
    for key, (c, v) in worth.items():
        for i, ch in enumerate(key):
            conv[ch] += c / len(key)
            val[ch] += v / len(key)
            pos_conv[ch][i] += c / len(key)
    return conv, val, pos_conv


# --------------------------------------------------------- exact Markov


def collapse(touches):
    return [t for i, t in enumerate(touches) if i == 0 or touches[i - 1] != t]


def markov_exact(rows, order):
    """Exact order-k Markov attribution by the fundamental matrix."""
    states, index = [], {}

    def sid(s):
        if s not in index:
            index[s] = len(states)
            states.append(s)
        return index[s]

    start = defaultdict(float)
    edges = defaultdict(float)
    conv = defaultdict(float)
    null = defaultdict(float)
    value = defaultdict(float)
    for touches, c, v, n in rows:
        w = c + n
        if w <= 0:
            continue
        seq = collapse(touches)
        ids = [sid(tuple(seq[max(0, i - order + 1) : i + 1])) for i in range(len(seq))]
        start[ids[0]] += w
        for a, b in zip(ids, ids[1:]):
            edges[(a, b)] += w
        conv[ids[-1]] += c
        null[ids[-1]] += n
        value[ids[-1]] += v
    m = len(states)
    counts = np.zeros((m, m))
    for (a, b), w in edges.items():
        counts[a, b] += w
    out = counts.sum(axis=1) + np.array([conv[s] + null[s] for s in range(m)])
    Q = counts / out[:, None]
    b_conv = np.array([conv[s] for s in range(m)]) / out
    per_conv = np.array([value[s] / conv[s] if conv[s] > 0 else 0.0 for s in range(m)])
    b_val = b_conv * per_conv
    s0 = np.array([start[s] for s in range(m)])
    s0 = s0 / s0.sum()

    def absorbed(keep):
        idx = np.flatnonzero(keep)
        N = np.linalg.inv(np.eye(len(idx)) - Q[np.ix_(idx, idx)])
        return s0[idx] @ N @ b_conv[idx], s0[idx] @ N @ b_val[idx]

    full = absorbed(np.ones(m, bool))
    channels = sorted({t for r in rows for t in r[0]})
    re_c, re_v = {}, {}
    for ch in channels:
        keep = np.array([ch not in s for s in states])
        p, v = absorbed(keep)
        re_c[ch] = max(0.0, 1 - p / full[0])
        re_v[ch] = max(0.0, 1 - v / full[1])
    total_c = sum(r[1] for r in rows)
    total_v = sum(r[2] for r in rows)
    sc, sv = sum(re_c.values()), sum(re_v.values())
    return {
        "states": m,
        "conversion_probability": float(full[0]),
        "expected_value": float(full[1]),
        "removal_effects": {ch: [re_c[ch], re_v[ch]] for ch in channels},
        "credit": {ch: [total_c * re_c[ch] / sc, total_v * re_v[ch] / sv] for ch in channels},
    }


# ------------------------------------------------- ChannelAttribution


def channel_attribution(df):
    import ChannelAttribution as ca
    from importlib.metadata import version

    h = ca.heuristic_models(
        df, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    )
    heuristics = {
        model: {
            row.channel_name: [
                float(getattr(row, f"{model}_touch_conversions")),
                float(getattr(row, f"{model}_touch_value")),
            ]
            for row in h.itertuples(index=False)
        }
        for model in ["first", "last", "linear"]
    }

    def runs(max_step):
        out = []
        for seed in CA_SEEDS:
            r = ca.markov_model(
                df, "path", "total_conversions",
                var_value="total_conversion_value", var_null="total_null",
                order=1, out_more=True, verbose=False, flg_pro=False, seed=seed,
                max_step=max_step, nsim_start=CA_NSIM,
            )
            res = r["result"].set_index("channel_name")
            re = r["removal_effects"].set_index("channel_name")
            out.append({
                ch: [
                    float(res.loc[ch, "total_conversions"]),
                    float(res.loc[ch, "total_conversion_value"]),
                    float(re.loc[ch, "removal_effects_conversion"]),
                    float(re.loc[ch, "removal_effects_conversion_value"]),
                ]
                for ch in res.index
            })
        return {
            ch: {
                "mean": list(np.mean([o[ch] for o in out], axis=0)),
                "sd": list(np.std([o[ch] for o in out], axis=0, ddof=1)),
            }
            for ch in out[0]
        }

    return {
        "version": version("ChannelAttribution"),
        "heuristics": heuristics,
        "markov_order_1": {
            "fields": ["conversions", "value", "removal_effect_conversions", "removal_effect_value"],
            "seeds": CA_SEEDS,
            "nsim_start": CA_NSIM,
            "max_step": CA_MAX_STEP,
            "runs": runs(CA_MAX_STEP),
            "runs_default_max_step": runs(None),
        },
    }


def main():
    os.makedirs(DATA, exist_ok=True)
    df = generate_paths(np.random.Generator(np.random.PCG64(SEED)))
    df.to_csv(os.path.join(DATA, "paths.csv"), index=False)
    # Read back what was written, so both sides see identical numbers.
    df = pd.read_csv(os.path.join(DATA, "paths.csv"))
    rows = parse(df)
    pos_c, pos_v = weighted_credit(rows, position_weights)
    td_c, td_v = weighted_credit(rows, time_decay_weights)
    sh_c, sh_v, _ = shapley(rows, ordered=False)
    osh_c, osh_v, osh_pos = shapley(rows, ordered=True)
    both = lambda c, v: {ch: [c[ch], v[ch]] for ch in sorted(set(c) | set(v))}
    expected = {
        "generated_by": "tests/reference/attribution_reference.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "seed": SEED,
        "rows": len(df),
        "totals": [float(df.total_conversions.sum()), float(df.total_conversion_value.sum())],
        "numpy_reference": {
            "position_based": both(pos_c, pos_v),
            "time_decay": both(td_c, td_v),
            "shapley": both(sh_c, sh_v),
            "shapley_ordered_positions": {
                ch: [osh_pos[ch][i] for i in range(max(osh_pos[ch]) + 1)] for ch in osh_pos
            },
            **{f"markov_order_{k}": markov_exact(rows, k) for k in range(1, 5)},
        },
        "channel_attribution": channel_attribution(df),
    }
    with open(os.path.join(DATA, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(df)} paths and expected.json to {DATA}")


if __name__ == "__main__":
    main()
