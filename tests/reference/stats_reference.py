#!/usr/bin/env python3
"""Reference values for the unit tests in `src/stats/`.

Every constant in a `#[cfg(test)]` block under `src/stats/` was printed by this
script. It only *calls* the reference packages; it never re-implements them.
The one exception is Fieller's interval, which no package ships: its reference
is found by numerically inverting the Fieller test statistic with
`scipy.optimize.brentq`, an independent route to the closed form the Rust
code uses.

How to run (pinned versions; other versions may move the last digits):

    python3 -m venv .venv-ref
    .venv-ref/bin/pip install gbstats==0.8.0 scipy==1.17.1 \
        statsmodels==0.15.0 numpy==1.26.4 pandas==1.5.3
    .venv-ref/bin/python tests/reference/stats_reference.py > ref.rs

The output is Rust source, one `// ===== file.rs: ... =====` section per file
of `src/stats/`. Each `const NAME` block in a section replaces the
`#[rustfmt::skip] const NAME` table of the same name in that file's
`#[cfg(test)] mod tests` (lines starting with `//` are commentary). Sums are
printed rather than raw data so the Rust tests build exactly the same
sufficient statistics; the tolerances live in the Rust tests.

Conventions shared with the Rust side:
* "control" is gbstats' `stat_a`, "treatment" is `stat_b`;
  effects are treatment - control (absolute) or treatment / control - 1
  (relative).
* scipy/statsmodels functions that take (sample1, sample2) get the treatment
  first, so their differences carry the same sign.
"""

import sys
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import scipy
import scipy.stats as st
from scipy.optimize import brentq

import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

import gbstats  # noqa: F401  (version check below)
from gbstats.bayesian.tests import (
    EffectBayesianABTest,
    EffectBayesianConfig,
    GaussianPrior,
)
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)
from gbstats.utils import check_srm

try:
    from importlib.metadata import version
except ImportError:  # pragma: no cover
    from importlib_metadata import version  # type: ignore

PINNED = {
    "gbstats": "0.8.0",
    "scipy": "1.17.1",
    "statsmodels": "0.15.0",
    "numpy": "1.26.4",
    "pandas": "1.5.3",
}


def check_versions() -> None:
    for pkg, want in PINNED.items():
        got = version(pkg)
        if got != want:
            print(f"// WARNING: {pkg} {got} installed, {want} pinned", file=sys.stderr)


# ---------------------------------------------------------------- helpers


def f(x: float) -> str:
    """A Rust f64 literal that round-trips exactly."""
    x = float(x)
    if np.isnan(x):
        return "f64::NAN"
    if np.isinf(x):
        return "f64::INFINITY" if x > 0 else "f64::NEG_INFINITY"
    r = repr(x)
    if "e" not in r and "." not in r and "inf" not in r:
        r += ".0"
    return r


def seq_sum(values) -> float:
    """Left-to-right float sum, the order Rust's `from_values` uses."""
    total = 0.0
    for v in values:
        total += float(v)
    return total


@dataclass
class Moments:
    """A SampleMean's sufficient statistics (n, sum, sum of squares)."""

    n: int
    sum: float
    sum_sq: float

    @staticmethod
    def of(values) -> "Moments":
        return Moments(len(values), seq_sum(values), seq_sum(v * v for v in values))

    @property
    def mean(self) -> float:
        return self.sum / self.n

    @property
    def var(self) -> float:
        return (self.sum_sq - self.sum**2 / self.n) / (self.n - 1)

    def gb(self) -> SampleMeanStatistic:
        return SampleMeanStatistic(n=self.n, sum=self.sum, sum_squares=self.sum_sq)

    def rust(self) -> str:
        return f"SampleMean {{ n: {f(self.n)}, sum: {f(self.sum)}, sum_sq: {f(self.sum_sq)} }}"


def section(name: str) -> None:
    print()
    print(f"// ===== {name} =====")


# ------------------------------------------------------------------ cases

SMALL_CONTROL = [3.0, 0.0, 12.5, 7.0, 0.0]
SMALL_TREATMENT = [15.0, 2.25, 0.0, 9.75]

MEAN_CASES: List[Tuple[str, Moments, Moments]] = [
    (
        "revenue_unequal_n",
        Moments(1200, 54321.5, 9876543.25),
        Moments(1350, 65432.25, 11234567.5),
    ),
    ("small_n", Moments.of(SMALL_CONTROL), Moments.of(SMALL_TREATMENT)),
    (
        "negative_net_revenue",
        Moments(300, -1520.5, 250000.75),
        Moments(280, -830.25, 198000.5),
    ),
    (
        "large_n",
        Moments(250000, 1.0e6, 3.5e7),
        Moments(249000, 1.01e6, 3.6e7),
    ),
    # a clear win: small p-values, and sequential p-values below 1
    (
        "clear_win",
        Moments(4000, 160000.0, 9999100.0),
        Moments(4100, 178350.0, 11857225.0),
    ),
]
ALPHAS = [0.05, 0.1]


def rust_mean_cases() -> None:
    section("moments.rs: gbstats SampleMeanStatistic mean / variance")
    print(f"// SMALL_CONTROL = {SMALL_CONTROL}, SMALL_TREATMENT = {SMALL_TREATMENT}")
    print("const MOMENT_CASES: &[MomentCase] = &[")
    for name, c, t in MEAN_CASES:
        for arm in (c, t):
            g = arm.gb()
            print(f"    MomentCase {{ stat: {arm.rust()}, mean: {f(g.mean)}, variance: {f(g.variance)} }},")
    print("];")


# ------------------------------------------------------------- frequentist


def welch_reference() -> None:
    section("frequentist.rs: Welch absolute (scipy ttest_ind_from_stats, equal_var=False)")
    print("const WELCH_CASES: &[WelchCase] = &[")
    for name, c, t in MEAN_CASES:
        for alpha in ALPHAS:
            res = st.ttest_ind_from_stats(
                t.mean, np.sqrt(t.var), t.n, c.mean, np.sqrt(c.var), c.n, equal_var=False
            )
            se = np.sqrt(t.var / t.n + c.var / c.n)
            df = (t.var / t.n + c.var / c.n) ** 2 / (
                (t.var / t.n) ** 2 / (t.n - 1) + (c.var / c.n) ** 2 / (c.n - 1)
            )
            # scipy >= 1.11 reports df on the result object; prefer it.
            df = float(getattr(res, "df", df))
            q = st.t.ppf(1 - alpha / 2, df)
            diff = t.mean - c.mean
            gb = TwoSidedTTest(
                c.gb(), t.gb(), FrequentistConfig(alpha=alpha, difference_type="absolute")
            ).compute_result()
            # gbstats and scipy agree; record both so a drift in either shows.
            assert abs(gb.p_value - res.pvalue) <= 1e-9 * max(res.pvalue, 1e-300) + 1e-15
            print(
                f'    WelchCase {{ name: "{name}", alpha: {f(alpha)}, control: {c.rust()}, '
                f"treatment: {t.rust()}, estimate: {f(diff)}, statistic: {f(res.statistic)}, "
                f"df: {f(df)}, p_value: {f(res.pvalue)}, ci_lower: {f(diff - q * se)}, "
                f"ci_upper: {f(diff + q * se)} }},"
            )
    print("];")
    # t quantiles at large df, where statrs' own inverse is loose.
    print("const T_QUANTILES: &[(f64, f64, f64)] = &[ // (upper tail prob, df, quantile)")
    for p, df in [(0.025, 3.7), (0.025, 57.3), (0.005, 1234.5), (0.025, 1.0e6), (0.05, 498000.0), (1e-6, 40.0)]:
        print(f"    ({f(p)}, {f(df)}, {f(st.t.isf(p, df))}),")
    print("];")
    print("const T_TAILS: &[(f64, f64, f64)] = &[ // (t, df, upper tail)")
    for t, df in [(2.1, 3.7), (6.5, 12.5), (2.1, 1234.5), (6.5, 1234.5), (2.1, 1e6), (6.5, 1e6), (2.1, 1e7), (2.1, 1e8), (2.1, 1e10)]:
        print(f"    ({f(t)}, {f(df)}, {f(st.t.sf(t, df))}),")
    print("];")
    print(f"// t.isf(0.025, 1e10) = {f(st.t.isf(0.025, 1e10))}")


def gb_ttest(c, t, alpha, relative, seq_n=None):
    kind = "relative" if relative else "absolute"
    if seq_n is None:
        test = TwoSidedTTest(c, t, FrequentistConfig(alpha=alpha, difference_type=kind))
    else:
        test = SequentialTwoSidedTTest(
            c,
            t,
            SequentialConfig(alpha=alpha, difference_type=kind, sequential_tuning_parameter=seq_n),
        )
    res = test.compute_result()
    assert res.error_message is None, res.error_message
    return test, res


def relative_reference() -> None:
    section("relative.rs: delta-method relative lift (gbstats TwoSidedTTest, relative)")
    print("const DELTA_CASES: &[DeltaCase] = &[")
    for name, c, t in MEAN_CASES:
        for alpha in ALPHAS:
            test, res = gb_ttest(c.gb(), t.gb(), alpha, relative=True)
            print(
                f'    DeltaCase {{ name: "{name}", alpha: {f(alpha)}, control: {c.rust()}, '
                f"treatment: {t.rust()}, estimate: {f(res.expected)}, std_error: {f(res.uplift.stddev)}, "
                f"df: {f(test.dof)}, p_value: {f(res.p_value)}, ci_lower: {f(res.ci[0])}, "
                f"ci_upper: {f(res.ci[1])} }},"
            )
    print("];")

    print("// Proportions through the same delta method: gbstats ProportionStatistic (variance p(1-p)).")
    print("const DELTA_PROPORTION_CASES: &[DeltaProportionCase] = &[")
    for name, (cs, cn), (ts, tn) in PROPORTION_CASES:
        if cs == 0:
            continue
        for alpha in ALPHAS[:1]:
            test, res = gb_ttest(
                ProportionStatistic(n=cn, sum=cs), ProportionStatistic(n=tn, sum=ts), alpha, True
            )
            print(
                f'    DeltaProportionCase {{ name: "{name}", alpha: {f(alpha)}, '
                f"control: Proportion {{ n: {f(cn)}, successes: {f(cs)} }}, "
                f"treatment: Proportion {{ n: {f(tn)}, successes: {f(ts)} }}, "
                f"estimate: {f(res.expected)}, std_error: {f(res.uplift.stddev)}, df: {f(test.dof)}, "
                f"p_value: {f(res.p_value)}, ci_lower: {f(res.ci[0])}, ci_upper: {f(res.ci[1])} }},"
            )
    print("];")

    section("relative.rs: Fieller interval for treatment/control - 1 (brentq on the test inversion)")
    print("const FIELLER_CASES: &[FiellerCase] = &[")
    for name, c, t in MEAN_CASES + FIELLER_EXTRA_CASES:
        for alpha in ALPHAS:
            vt, vc = t.var / t.n, c.var / c.n
            df = (vt + vc) ** 2 / (vt**2 / (t.n - 1) + vc**2 / (c.n - 1))
            q = st.t.ppf(1 - alpha / 2, df)
            mt, mc = t.mean, c.mean

            # Fieller's set: {R : (mt - R mc)^2 <= q^2 (vt + R^2 vc)}.
            def g(r):
                return (mt - r * mc) ** 2 - q**2 * (vt + r**2 * vc)

            lead = mc**2 - q**2 * vc
            if lead > 0:
                centre = mt * mc / lead  # g is minimal here, and negative
                span = 1.0
                while g(centre - span) < 0 or g(centre + span) < 0:
                    span *= 2
                lo = brentq(g, centre - span, centre, xtol=1e-15, rtol=1e-15)
                hi = brentq(g, centre, centre + span, xtol=1e-15, rtol=1e-15)
                kind, a, b = "Bounded", lo - 1, hi - 1
            else:
                centre = mt * mc / lead  # g is maximal here
                if g(centre) <= 0:
                    kind, a, b = "Unbounded", f64nan(), f64nan()
                else:
                    span = 1.0
                    while g(centre - span) > 0 or g(centre + span) > 0:
                        span *= 2
                    lo = brentq(g, centre - span, centre, xtol=1e-15, rtol=1e-15)
                    hi = brentq(g, centre, centre + span, xtol=1e-15, rtol=1e-15)
                    kind, a, b = "Exclusive", lo - 1, hi - 1
            print(
                f'    FiellerCase {{ name: "{name}", alpha: {f(alpha)}, control: {c.rust()}, '
                f'treatment: {t.rust()}, kind: "{kind}", first: {f(a)}, second: {f(b)} }},'
            )
    print("];")


# Both means indistinguishable from zero: Fieller's set is the whole line.
FIELLER_EXTRA_CASES = [
    ("noise_only", Moments(10, 5.0, 902.5), Moments(10, 3.0, 900.9)),
]


def f64nan():
    return float("nan")


# ------------------------------------------------------------- proportions

PROPORTION_CASES = [
    ("conversion_unequal_n", (48, 1000), (67, 1050)),
    ("zero_control_successes", (0, 40), (3, 38)),
    ("large", (1500, 20000), (1620, 20500)),
    ("small_n", (2, 7), (5, 9)),
]


def proportions_reference() -> None:
    section("proportions.rs: unpooled z (statsmodels test_proportions_2indep wald), Newcombe")
    print("const PROPORTION_CASES: &[ProportionCase] = &[")
    for name, (cs, cn), (ts, tn) in PROPORTION_CASES:
        for alpha in ALPHAS:
            # statsmodels also computes a ratio it does not need here, which
            # divides by zero for a 0 % arm; silence that warning.
            with np.errstate(divide="ignore"):
                z = test_proportions_2indep(ts, tn, cs, cn, method="wald", compare="diff")
            newc = confint_proportions_2indep(
                ts, tn, cs, cn, method="newcomb", compare="diff", alpha=alpha
            )
            wald = confint_proportions_2indep(
                ts, tn, cs, cn, method="wald", compare="diff", alpha=alpha
            )
            print(
                f'    ProportionCase {{ name: "{name}", alpha: {f(alpha)}, '
                f"control: Proportion {{ n: {f(cn)}, successes: {f(cs)} }}, "
                f"treatment: Proportion {{ n: {f(tn)}, successes: {f(ts)} }}, "
                f"difference: {f(ts / tn - cs / cn)}, statistic: {f(z.statistic)}, "
                f"p_value: {f(z.pvalue)}, wald: ({f(wald[0])}, {f(wald[1])}), "
                f"newcombe: ({f(newc[0])}, {f(newc[1])}) }},"
            )
    print("];")
    print("const WILSON_CASES: &[(f64, f64, f64, f64, f64)] = &[ // (successes, n, alpha, lower, upper)")
    for s, n, alpha in [(0, 40, 0.05), (3, 38, 0.05), (48, 1000, 0.1), (7, 7, 0.05), (1500, 20000, 0.05)]:
        lo, hi = proportion_confint(s, n, alpha=alpha, method="wilson")
        print(f"    ({f(s)}, {f(n)}, {f(alpha)}, {f(lo)}, {f(hi)}),")
    print("];")


# -------------------------------------------------------------------- ratio

def ratio_data(seed: int, n: int, carts_mean: float, aov: float):
    rng = np.random.RandomState(seed)
    carts = rng.poisson(carts_mean, n) + 1  # every customer has >= 1 cart
    revenue = np.array(
        [seq_sum(rng.gamma(2.0, aov / 2.0, k) * (rng.uniform(size=k) < 0.3)) for k in carts]
    )
    # refunds make a few customers' revenue negative
    refund = rng.uniform(size=n) < 0.03
    revenue[refund] -= rng.gamma(2.0, aov / 2.0, refund.sum())
    return revenue, carts.astype(float)


def ratio_sums(num, den):
    return dict(
        n=len(num),
        sum_num=seq_sum(num),
        sum_num2=seq_sum(x * x for x in num),
        sum_den=seq_sum(den),
        sum_den2=seq_sum(x * x for x in den),
        sum_num_den=seq_sum(x * y for x, y in zip(num, den)),
    )


def gb_ratio(s) -> RatioStatistic:
    return RatioStatistic(
        n=s["n"],
        m_statistic=SampleMeanStatistic(n=s["n"], sum=s["sum_num"], sum_squares=s["sum_num2"]),
        d_statistic=SampleMeanStatistic(n=s["n"], sum=s["sum_den"], sum_squares=s["sum_den2"]),
        m_d_sum_of_products=s["sum_num_den"],
    )


def rust_ratio(s) -> str:
    return (
        f"Ratio {{ n: {f(s['n'])}, sum_num: {f(s['sum_num'])}, sum_num2: {f(s['sum_num2'])}, "
        f"sum_den: {f(s['sum_den'])}, sum_den2: {f(s['sum_den2'])}, sum_num_den: {f(s['sum_num_den'])} }}"
    )


RATIO_CASES = [
    ("revenue_per_cart", (11, 800, 0.6, 60.0), (12, 900, 0.6, 66.0)),
    ("small_with_refunds", (21, 25, 0.4, 40.0), (22, 30, 0.5, 44.0)),
]


def ratio_reference() -> None:
    section("moments.rs: gbstats RatioStatistic mean / variance")
    print("const RATIO_MOMENT_CASES: &[RatioMomentCase] = &[")
    for name, cp, tp in RATIO_CASES:
        for sums in (ratio_sums(*ratio_data(*cp)), ratio_sums(*ratio_data(*tp))):
            g = gb_ratio(sums)
            print(
                f"    RatioMomentCase {{ stat: {rust_ratio(sums)}, mean: {f(g.mean)}, "
                f"variance: {f(g.variance)} }},"
            )
    print("];")

    section("relative.rs: ratio metrics through gbstats TwoSidedTTest")
    print("const RATIO_CASES: &[RatioCase] = &[")
    for name, cp, tp in RATIO_CASES:
        cs, ts = ratio_sums(*ratio_data(*cp)), ratio_sums(*ratio_data(*tp))
        abs_test, abs_res = gb_ttest(gb_ratio(cs), gb_ratio(ts), 0.05, relative=False)
        rel_test, rel_res = gb_ttest(gb_ratio(cs), gb_ratio(ts), 0.05, relative=True)
        print(
            f'    RatioCase {{ name: "{name}", control: {rust_ratio(cs)}, treatment: {rust_ratio(ts)}, '
            f"absolute: ({f(abs_res.expected)}, {f(abs_res.p_value)}, {f(abs_res.ci[0])}, {f(abs_res.ci[1])}), "
            f"relative: ({f(rel_res.expected)}, {f(rel_res.p_value)}, {f(rel_res.ci[0])}, {f(rel_res.ci[1])}) }},"
        )
    print("];")


# -------------------------------------------------------------------- cuped

def cuped_data(seed: int, n: int, effect: float, rho: float, shift: float):
    rng = np.random.RandomState(seed)
    x = rng.gamma(2.0, 25.0, n) + shift
    y = rho * x + rng.normal(0.0, 30.0, n) + effect + shift
    return y, x


def ra_sums(y, x):
    return dict(
        n=len(y),
        sum_y=seq_sum(y),
        sum_y2=seq_sum(v * v for v in y),
        sum_x=seq_sum(x),
        sum_x2=seq_sum(v * v for v in x),
        sum_xy=seq_sum(a * b for a, b in zip(y, x)),
    )


def gb_ra(s) -> RegressionAdjustedStatistic:
    return RegressionAdjustedStatistic(
        n=s["n"],
        post_statistic=SampleMeanStatistic(n=s["n"], sum=s["sum_y"], sum_squares=s["sum_y2"]),
        pre_statistic=SampleMeanStatistic(n=s["n"], sum=s["sum_x"], sum_squares=s["sum_x2"]),
        post_pre_sum_of_products=s["sum_xy"],
        theta=0,
    )


def rust_ra(s) -> str:
    return (
        f"RegressionAdjusted {{ n: {f(s['n'])}, sum_y: {f(s['sum_y'])}, sum_y2: {f(s['sum_y2'])}, "
        f"sum_x: {f(s['sum_x'])}, sum_x2: {f(s['sum_x2'])}, sum_xy: {f(s['sum_xy'])} }}"
    )


CUPED_CASES = [
    ("strong_covariate_unequal_n", (31, 1500, 0.0, 0.9, 0.0), (32, 1700, 4.0, 0.9, 0.0)),
    ("weak_covariate_small_n", (41, 12, 0.0, 0.2, 0.0), (42, 15, 10.0, 0.2, 0.0)),
    ("negative_values", (51, 400, 0.0, 0.7, -80.0), (52, 380, 3.0, 0.7, -80.0)),
]


def cuped_reference() -> None:
    section("cuped.rs: gbstats RegressionAdjustedStatistic + compute_theta")
    print("const CUPED_CASES: &[CupedCase] = &[")
    for name, cp, tp in CUPED_CASES:
        cs, ts = ra_sums(*cuped_data(*cp)), ra_sums(*cuped_data(*tp))
        theta = compute_theta(gb_ra(cs), gb_ra(ts))
        abs_test, abs_res = gb_ttest(gb_ra(cs), gb_ra(ts), 0.05, relative=False)
        rel_test, rel_res = gb_ttest(gb_ra(cs), gb_ra(ts), 0.05, relative=True)
        assert abs_test.stat_a.theta == theta
        bayes = EffectBayesianABTest(
            gb_ra(cs),
            gb_ra(ts),
            EffectBayesianConfig(difference_type="relative", alpha=0.05),
        ).compute_result()
        print(
            f'    CupedCase {{ name: "{name}", control: {rust_ra(cs)}, treatment: {rust_ra(ts)}, '
            f"theta: {f(theta)}, control_mean: {f(abs_test.stat_a.mean)}, "
            f"control_variance: {f(abs_test.stat_a.variance)}, treatment_mean: {f(abs_test.stat_b.mean)}, "
            f"treatment_variance: {f(abs_test.stat_b.variance)}, "
            f"absolute: ({f(abs_res.expected)}, {f(abs_res.p_value)}, {f(abs_res.ci[0])}, {f(abs_res.ci[1])}), "
            f"relative: ({f(rel_res.expected)}, {f(rel_res.p_value)}, {f(rel_res.ci[0])}, {f(rel_res.ci[1])}), "
            f"bayes_relative_ctw: {f(bayes.chance_to_win)} }},"
        )
    print("];")
    # A pre-period with no variance: gbstats sets theta to 0 and falls back.
    flat = dict(n=10, sum_y=55.0, sum_y2=385.0, sum_x=30.0, sum_x2=90.0, sum_xy=165.0)
    flat_t = dict(n=12, sum_y=90.0, sum_y2=800.0, sum_x=36.0, sum_x2=108.0, sum_xy=270.0)
    print(f"// flat pre-period: theta = {f(compute_theta(gb_ra(flat), gb_ra(flat_t)))}")
    print(f"const FLAT_PRE_CONTROL: RegressionAdjusted = {rust_ra(flat)};")
    print(f"const FLAT_PRE_TREATMENT: RegressionAdjusted = {rust_ra(flat_t)};")


# -------------------------------------------------------------------- bayes

def bayes_reference() -> None:
    section("bayes.rs: gbstats EffectBayesianABTest (GaussianPrior, prior_type relative)")
    print("const BAYES_CASES: &[BayesCase] = &[")
    priors = [("Prior::Flat", GaussianPrior()), ("Prior::Normal { mean: 0.0, variance: 0.09 }", GaussianPrior(0.0, 0.09, True))]
    for name, c, t in MEAN_CASES:
        for relative in (True, False):
            for prior_rust, prior in priors:
                for alpha in ([0.05, 0.1] if name == "revenue_unequal_n" else [0.05]):
                    cfg = EffectBayesianConfig(
                        difference_type="relative" if relative else "absolute",
                        alpha=alpha,
                        prior_effect=prior,
                        prior_type="relative",
                    )
                    res = EffectBayesianABTest(c.gb(), t.gb(), cfg).compute_result()
                    assert res.error_message is None, res.error_message
                    scale = "EffectScale::Relative" if relative else "EffectScale::Absolute"
                    print(
                        f'    BayesCase {{ name: "{name}", scale: {scale}, prior: {prior_rust}, alpha: {f(alpha)}, '
                        f"control: {c.rust()}, treatment: {t.rust()}, expected: {f(res.expected)}, "
                        f"std_dev: {f(res.uplift.stddev)}, chance_to_win: {f(res.chance_to_win)}, "
                        f"risk_control: {f(res.risk[0])}, risk_treatment: {f(res.risk[1])}, "
                        f"ci_lower: {f(res.ci[0])}, ci_upper: {f(res.ci[1])} }},"
                    )
    print("];")


# --------------------------------------------------------------- sequential

def sequential_reference() -> None:
    section("sequential.rs: gbstats SequentialTwoSidedTTest")
    print("const SEQUENTIAL_CASES: &[SequentialCase] = &[")
    for name, c, t in MEAN_CASES:
        for relative in (False, True):
            for planned, alpha in [(5000.0, 0.05), (20000.0, 0.1)]:
                test, res = gb_ttest(c.gb(), t.gb(), alpha, relative, seq_n=planned)
                scale = "EffectScale::Relative" if relative else "EffectScale::Absolute"
                print(
                    f'    SequentialCase {{ name: "{name}", scale: {scale}, alpha: {f(alpha)}, '
                    f"planned_units: {f(planned)}, control: {c.rust()}, treatment: {t.rust()}, "
                    f"estimate: {f(res.expected)}, p_value: {f(res.p_value)}, "
                    f"ci_lower: {f(res.ci[0])}, ci_upper: {f(res.ci[1])} }},"
                )
    print("];")


# ----------------------------------------------------------------- multiple

P_FAMILIES = [
    [0.01, 0.04, 0.03, 0.005, 0.2],
    [0.02, 0.02, 0.5, 0.001],
    [0.3],
    [0.9, 0.6, 0.45, 0.8, 0.7, 0.0001],
    [0.0, 1.0, 0.049, 0.051],
]


def multiple_reference() -> None:
    section("multiple.rs: statsmodels multipletests holm / fdr_bh")
    print("const FAMILIES: &[(&[f64], &[f64], &[f64])] = &[ // (p, holm, bh)")
    for ps in P_FAMILIES:
        holm = multipletests(ps, method="holm")[1]
        bh = multipletests(ps, method="fdr_bh")[1]
        print(
            f"    (&[{', '.join(f(p) for p in ps)}], &[{', '.join(f(p) for p in holm)}], "
            f"&[{', '.join(f(p) for p in bh)}]),"
        )
    print("];")


# ---------------------------------------------------------------------- srm

SRM_CASES = [
    ([5010, 4990], [0.5, 0.5]),
    ([9000, 1100], [0.9, 0.1]),
    ([3300, 3350, 3400], [1.0, 1.0, 1.0]),
    ([1000, 1200], [50.0, 50.0]),
    ([180, 20], [0.85, 0.15]),
]


def srm_reference() -> None:
    section("srm.rs: scipy.stats.chisquare (and gbstats check_srm)")
    print("const SRM_CASES: &[(&[u64], &[f64], f64, f64)] = &[ // (observed, weights, chi2, p)")
    for obs, w in SRM_CASES:
        total = sum(obs)
        exp = [wi / sum(w) * total for wi in w]
        res = st.chisquare(obs, exp)
        assert abs(check_srm(obs, w) - res.pvalue) <= 1e-12 + 1e-9 * res.pvalue
        print(
            f"    (&[{', '.join(str(o) for o in obs)}], &[{', '.join(f(x) for x in w)}], "
            f"{f(res.statistic)}, {f(res.pvalue)}),"
        )
    print("];")


# -------------------------------------------------------------------- power

POWER_CASES = [
    # (name, baseline mean, baseline variance, holdout fraction, daily units, days)
    ("revenue_10pct_holdout", 42.5, 6100.0, 0.1, 800.0, 28.0),
    ("conversion_20pct_holdout", 0.05, 0.05 * 0.95, 0.2, 500.0, 14.0),
    ("even_split", 12.0, 900.0, 0.5, 150.0, 7.0),
]


def power_reference() -> None:
    section("power.rs: statsmodels NormalIndPower (normal approximation, two-sided)")
    npow = NormalIndPower()
    print("const POWER_CASES: &[PowerCase] = &[")
    for name, mean, var, hold, daily, days in POWER_CASES:
        sigma = np.sqrt(var)
        n_total = daily * days
        n_hold = hold * n_total
        ratio = (1 - hold) / hold  # nobs2 / nobs1 with nobs1 = holdout
        d = npow.solve_power(effect_size=None, nobs1=n_hold, alpha=0.05, power=0.8, ratio=ratio)
        mde_abs = d * sigma
        # days needed for a relative MDE of 5 %
        d_target = 0.05 * abs(mean) / sigma
        n1 = npow.solve_power(effect_size=d_target, nobs1=None, alpha=0.05, power=0.8, ratio=ratio)
        days_needed = n1 / hold / daily
        # statsmodels' solver stops early (its power at the solution is
        # 0.80002, not 0.8), so tighten it: root-find the package's own power
        # function with brentq at machine precision. Both are printed.
        d_tight = brentq(
            lambda e: npow.power(effect_size=e, nobs1=n_hold, alpha=0.05, ratio=ratio) - 0.8,
            d * 0.5,
            d * 2.0,
            xtol=1e-15,
            rtol=1e-15,
        )
        n1_tight = brentq(
            lambda m: npow.power(effect_size=d_target, nobs1=m, alpha=0.05, ratio=ratio) - 0.8,
            n1 * 0.5,
            n1 * 2.0,
            xtol=1e-12,
            rtol=1e-15,
        )
        pw_half = npow.power(effect_size=d_tight / 2, nobs1=n_hold, alpha=0.05, ratio=ratio)
        t_d = tt_ind_solve_power(effect_size=None, nobs1=n_hold, alpha=0.05, power=0.8, ratio=ratio)
        print(f"    // t-test (tt_ind_solve_power) MDE for comparison only: {f(t_d * sigma)}")
        mde_tight = d_tight * sigma
        print(
            f'    PowerCase {{ name: "{name}", baseline_mean: {f(mean)}, baseline_variance: {f(var)}, '
            f"holdout_fraction: {f(hold)}, daily_units: {f(daily)}, days: {f(days)}, "
            f"mde_absolute: {f(mde_tight)}, mde_relative: {f(mde_tight / abs(mean))}, "
            f"days_for_5pct: {f(n1_tight / hold / daily)}, power_at_half_mde: {f(pw_half)}, "
            f"solve_power_mde_absolute: {f(mde_abs)}, solve_power_days_for_5pct: {f(days_needed)} }},"
        )
    print("];")


def main() -> None:
    check_versions()
    print("// Generated by tests/reference/stats_reference.py")
    print(
        f"// gbstats {version('gbstats')}, scipy {scipy.__version__}, "
        f"statsmodels {statsmodels.__version__}, numpy {np.__version__}"
    )
    rust_mean_cases()
    welch_reference()
    relative_reference()
    proportions_reference()
    ratio_reference()
    cuped_reference()
    bayes_reference()
    sequential_reference()
    multiple_reference()
    srm_reference()
    power_reference()


if __name__ == "__main__":
    main()
