#!/usr/bin/env python3
"""Checks that cartlift and ChannelAttribution agree on the bench table
before their times are compared: heuristics to rounding, Markov order 1
within ChannelAttribution's simulation error. At its defaults (1e5
simulated journeys, truncated at the longest observed path) a channel with
removal effect about 0.1 gets only a few thousand simulated conversions per
removal, so its credit moves by up to about 10 % between seeds; the gate is
15 %. The precise comparison (10 seeds x 1e6 simulations against the exact
solution) is the unit test in src/attribution/markov.rs.

Usage: python compare.py OURS.json CA.json
"""

import json
import sys


def main():
    ours = json.load(open(sys.argv[1]))
    ca = json.load(open(sys.argv[2]))
    models = {m["model"]: {c["channel"]: c for c in m["channels"]} for m in ours["models"]}
    h = ca["heuristics"]
    worst_heuristic = 0.0
    for i, ch in enumerate(h["channel_name"]):
        for model in ["first", "last", "linear"]:
            for field, ca_field in [("conversions", "conversions"), ("value", "value")]:
                a = models[f"{model}_touch" if model != "linear" else "linear"][ch][field]
                b = h[f"{model}_touch_{ca_field}"][i]
                worst_heuristic = max(worst_heuristic, abs(a - b) / max(abs(b), 1.0))
    m = ca["markov"]
    worst_markov = 0.0
    for i, ch in enumerate(m["channel_name"]):
        a = models["markov_order_1"][ch]["conversions"]
        b = m["total_conversions"][i]
        worst_markov = max(worst_markov, abs(a - b) / max(abs(b), 1.0))
    print(f"heuristics: max relative difference {worst_heuristic:.2e}")
    print(f"markov order 1 conversions: max relative difference {worst_markov:.2%}")
    if worst_heuristic > 1e-9 or worst_markov > 0.15:
        sys.exit("cartlift and ChannelAttribution disagree: times are not comparable")


if __name__ == "__main__":
    main()
