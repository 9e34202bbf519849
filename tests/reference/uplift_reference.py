#!/usr/bin/env python3
"""Reference values for cartlift's uplift ranking diagnostics (src/uplift/rank.rs).

Writes, next to this script:
  data/uplift_metrics.json  fixed inputs (seeded) and scikit-uplift's figures
                            on them; the unit tests of src/uplift/rank.rs match them
                            to 1e-9.

It only *calls* scikit-uplift (sklift.metrics): qini_auc_score (with and
without negative effects), uplift_auc_score, uplift_at_k (strategies
'overall' and 'by_group' at several k), uplift_by_percentile (strategy
'overall', 10 bins), and the qini and uplift curves themselves.

Cases: continuous scores (no ties), scores rounded to one decimal (many
ties: the curves have one point per distinct score, and uplift_at_k breaks
ties by numpy's stable argsort, reversed), and a small imbalanced case.

Run (from the repository root; pinned versions):

  python3 -m venv .venv-ref
  .venv-ref/bin/pip install scikit-uplift==0.5.1 scikit-learn==1.9.1 \
      numpy==2.4.6 pandas==3.1.1
  .venv-ref/bin/python tests/reference/uplift_reference.py
"""

import json
import os
import warnings

import numpy as np

warnings.simplefilter("ignore", FutureWarning)
from sklift.metrics import (
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)

SEED = 20261130
KS = [0.1, 0.3, 0.5]


def qini_no_negative(y, uplift, treatment):
    # With fewer treated responders than random targeting gives, the
    # "perfect" curve runs backwards and sklearn's auc refuses it: None.
    try:
        return float(qini_auc_score(y, uplift, treatment, negative_effect=False))
    except ValueError:
        return None


def case(name, y, uplift, treatment):
    out = {
        "name": name,
        "y": [int(v) for v in y],
        "treatment": [int(v) for v in treatment],
        "uplift": [float(v) for v in uplift],
        "qini_auc": float(qini_auc_score(y, uplift, treatment, negative_effect=True)),
        "qini_auc_no_negative": qini_no_negative(y, uplift, treatment),
        "uplift_auc": float(uplift_auc_score(y, uplift, treatment)),
    }
    for strategy in ["overall", "by_group"]:
        vals = []
        for k in KS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = float(uplift_at_k(y, uplift, treatment, strategy=strategy, k=k))
            vals.append(None if np.isnan(v) else v)
        out["uplift_at_k_" + strategy] = vals
    x, v = qini_curve(y, uplift, treatment)
    out["qini_curve"] = [[float(a), float(b)] for a, b in zip(x, v)]
    x, v = uplift_curve(y, uplift, treatment)
    out["uplift_curve"] = [[float(a), float(b)] for a, b in zip(x, v)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = uplift_by_percentile(y, uplift, treatment, strategy="overall", bins=10)
    out["deciles"] = [
        {
            "percentile": p,
            "n_treatment": int(r.n_treatment),
            "n_control": int(r.n_control),
            "uplift": None if np.isnan(r.uplift) else float(r.uplift),
        }
        for p, r in df.iterrows()
    ]
    return out


def main():
    rng = np.random.default_rng(SEED)
    n = 2000
    x = rng.normal(size=n)
    treatment = rng.integers(0, 2, size=n)
    # Uplift grows with x: the score x ranks units well but not perfectly.
    p = 0.1 + 0.05 * treatment * (x > 0) + 0.02 * treatment
    y = (rng.random(n) < p).astype(int)
    score = x + rng.normal(scale=0.5, size=n)
    cases = [
        case("continuous", y, score, treatment),
        case("ties", y, np.round(score, 1), treatment),
    ]
    m = 137
    t_small = (rng.random(m) < 0.2).astype(int)
    y_small = (rng.random(m) < 0.3).astype(int)
    cases.append(case("small_imbalanced", y_small, rng.normal(size=m), t_small))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "data", "uplift_metrics.json")
    with open(path, "w") as f:
        json.dump({"seed": SEED, "ks": KS, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
