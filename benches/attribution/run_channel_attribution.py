#!/usr/bin/env python3
"""The peer side of the attribution benchmark: ChannelAttribution's
heuristic_models and markov_model (order 1, its defaults otherwise) on the
same path table cartlift reads. Only its outputs are used (it is GPL).

Usage: python run_channel_attribution.py PATHS.csv OUT.json [NCORE]
Needs: numpy==1.26.4 pandas==1.5.3 matplotlib==3.8.4 ChannelAttribution==2.2.5
"""

import json
import sys
import time

import pandas as pd
import ChannelAttribution as ca


def main():
    src, out = sys.argv[1], sys.argv[2]
    ncore = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    t0 = time.perf_counter()
    df = pd.read_csv(src)
    t1 = time.perf_counter()
    h = ca.heuristic_models(
        df, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    )
    t2 = time.perf_counter()
    m = ca.markov_model(
        df, "path", "total_conversions",
        var_value="total_conversion_value", var_null="total_null",
        order=1, ncore=ncore, seed=1, verbose=False, flg_pro=False,
    )
    t3 = time.perf_counter()
    print(
        f"read {t1 - t0:.3f} s, heuristic_models {t2 - t1:.3f} s, "
        f"markov_model {t3 - t2:.3f} s, total {t3 - t0:.3f} s",
        file=sys.stderr,
    )
    with open(out, "w") as f:
        json.dump({"heuristics": h.to_dict(orient="list"), "markov": m.to_dict(orient="list")}, f, indent=1)


if __name__ == "__main__":
    main()
