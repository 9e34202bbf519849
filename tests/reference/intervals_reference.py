#!/usr/bin/env python3
"""Reference values for the headline methods in `src/stats/`:
`score.rs` (Miettinen-Nurminen score tests and intervals), `randomization.rs`
(Pearson type III tails, randomization p-values) and `moments.rs` (skewness).

Every constant in the `#[rustfmt::skip]` tables named below was printed by
this script. It only *calls* the reference packages; it never re-implements
them.

How to run (same venv as stats_reference.py):

    python3 -m venv .venv-ref
    .venv-ref/bin/pip install scipy==1.17.1 statsmodels==0.15.0 numpy
    .venv-ref/bin/python tests/reference/intervals_reference.py > ref.rs

Conventions: the treatment is passed first, so differences are treatment -
control and ratios treatment / control.
"""
import numpy as np
from scipy import stats
from statsmodels.stats.proportion import (confint_proportions_2indep,
                                          test_proportions_2indep)


def r(x):
    return repr(float(x))


# ---------------------------------------------------------------- score.rs
print("// ===== score.rs: statsmodels test_proportions_2indep / "
      "confint_proportions_2indep, method='score' =====")
print("// (control successes, control n, treatment successes, treatment n, alpha,")
print("//  diff p, diff lower, diff upper, ratio p, ratio lower, ratio upper); NaN: not asked")
print("const SCORE_CASES: &[ScoreCase] = &[")
for xc, nc, xt, nt, alpha in [
    (48, 1000, 67, 1050, 0.05),
    (48, 1000, 67, 1050, 0.1),
    (0, 150, 6, 150, 0.05),
    (11, 1800, 0, 200, 0.05),
    (11, 1800, 4, 200, 0.05),
    (122, 19175, 10, 2131, 0.05),
    (2, 7, 5, 9, 0.05),
]:
    d = test_proportions_2indep(xt, nt, xc, nc, method="score", compare="diff")
    try:
        dl, du = confint_proportions_2indep(xt, nt, xc, nc, method="score", compare="diff",
                                            alpha=alpha)
    except ValueError:  # statsmodels' root finder fails when an arm has no successes
        dl = du = float("nan")
    try:
        q = test_proportions_2indep(xt, nt, xc, nc, method="score", compare="ratio")
        ql, qu = confint_proportions_2indep(xt, nt, xc, nc, method="score",
                                            compare="ratio", alpha=alpha)
        rel = (q.pvalue, ql - 1, qu - 1)
    except (ValueError, ZeroDivisionError):
        rel = (float("nan"),) * 3
    if xc == 0:
        rel = (float("nan"),) * 3
    vals = [xc, nc, xt, nt, alpha, d.pvalue, dl, du, *rel]
    print("    (" + ", ".join(r(v) if np.isfinite(v) else "f64::NAN" for v in vals) + "),")
print("];")

# ------------------------------------------------------ randomization.rs
print()
print("// ===== randomization.rs: scipy.stats.pearson3(skew).sf(t) =====")
print("const PEARSON3_CASES: &[(f64, f64, f64)] = &[")
for t, g in [(1.96, 0.3), (-1.96, 0.3), (2.5, 1.8), (-1.2, 1.8), (0.0, -0.7),
             (2.2, -0.7), (3.0, 0.05), (-3.0, 4.0), (1.0, 0.01)]:
    print(f"    ({r(t)}, {r(g)}, {r(stats.pearson3(g).sf(t))}),")
print("];")

# A small heavy-tailed sample (revenue-like: mostly zeros) and its exact
# randomization p-value by complete enumeration where feasible, otherwise
# scipy.stats.permutation_test with many resamples.
print()
print("// ===== randomization.rs: scipy.stats.permutation_test, statistic = mean(t) - mean(c) =====")
rng = np.random.default_rng(13)


def sample(n, p):
    buy = rng.random(n) < p
    return np.where(buy, np.round(rng.lognormal(3.5, 1.0, n), 2), 0.0)


def diff(t, c, axis=-1):
    return np.mean(t, axis=axis) - np.mean(c, axis=axis)


print("// (control values, treatment values, two-sided p, one-sided greater p, resamples)")
print("const PERMUTATION_CASES: &[PermutationCase] = &[")
for nc, nt, p in [(14, 6, 0.3), (300, 40, 0.05), (600, 60, 0.03), (120, 120, 0.08)]:
    c, t = sample(nc, p), sample(nt, p)
    t[0] = 61.5  # at least one buyer in the treatment
    n_resamples = np.inf if nc + nt <= 20 else 400_000
    res2 = stats.permutation_test((t, c), diff, permutation_type="independent",
                                  n_resamples=n_resamples, alternative="two-sided",
                                  vectorized=True, random_state=1)
    res1 = stats.permutation_test((t, c), diff, permutation_type="independent",
                                  n_resamples=n_resamples, alternative="greater",
                                  vectorized=True, random_state=1)
    fmt = lambda a: "&[" + ", ".join(r(x) for x in a) + "]"
    nr = "f64::INFINITY" if not np.isfinite(n_resamples) else r(n_resamples)
    print(f"    ({fmt(c)}, {fmt(t)}, {r(res2.pvalue)}, {r(res1.pvalue)}, {nr}),")
print("];")

# ------------------------------------------------------------ moments.rs
print()
print("// ===== moments.rs: scipy.stats.skew (bias=True), numpy var(ddof=1) =====")
print("const SKEW_CASES: &[(&[f64], f64, f64)] = &[")
for vals in [[0, 0, 0, 34.0, 0, 58.5, 0, 120.0], [1.5, 2.25, 3.0, 10.0],
             [19.99] * 5 + [20.01], [-3.0, 0, 0, 0, 12.5, 7.0]]:
    a = np.array(vals, dtype=float)
    print(f"    (&[{', '.join(r(x) for x in a)}], {r(stats.skew(a))}, {r(a.var(ddof=1))}),")
print("];")
