//! Score tests and intervals for two proportions (Miettinen & Nurminen
//! 1985, "Comparative analysis of two rates", *Statistics in Medicine*
//! 4:213–226): the headline for 0/1 metrics.
//!
//! For a hypothesized difference δ (or ratio R) the arms' rates are
//! re-estimated by maximum likelihood *under that hypothesis* (closed forms:
//! a cubic for the difference; a quadratic for the ratio, as in Farrington
//! & Manning 1990), and the statistic uses the variance at those constrained
//! rates, times N/(N − 1). An arm with no conversions therefore still
//! contributes variance, which is what the unpooled z test misses. The
//! interval is the set of δ (or R) the test does not reject, so the
//! interval and the p-value (of δ = 0, equivalently R = 1) always agree.
//! They match statsmodels' `test_proportions_2indep` and
//! `confint_proportions_2indep` with `method="score"` (constants from
//! `tests/reference/intervals_reference.py`).

use super::dist::{normal_two_sided_p, normal_upper_quantile};
use super::error::{ensure_alpha, Arm, StatsError};
use super::moments::Proportion;
use super::Interval;

/// Score statistic for H0: p_t − p_c = δ. The constrained maximum
/// likelihood rate of the control is the root of Miettinen & Nurminen's
/// cubic (their eq. 27, in trigonometric form).
fn diff_statistic(xt: f64, nt: f64, xc: f64, nc: f64, delta: f64) -> f64 {
    let n = nt + nc;
    let x = xt + xc;
    let (pc, pt) = if delta == 0.0 {
        (x / n, x / n)
    } else {
        let a3 = n;
        let a2 = (nt + 2.0 * nc) * delta - n - x;
        let a1 = (xc * delta - n - 2.0 * xc) * delta + x;
        let a0 = xc * delta * (1.0 - delta);
        let q = (a2 / (3.0 * a3)).powi(3) - a1 * a2 / (6.0 * a3 * a3) + a0 / (2.0 * a3);
        let p = q.signum()
            * ((a2 / (3.0 * a3)).powi(2) - a1 / (3.0 * a3))
                .max(0.0)
                .sqrt();
        let ratio = if p == 0.0 {
            0.0
        } else {
            (q / p.powi(3)).clamp(-1.0, 1.0)
        };
        let w = (std::f64::consts::PI + ratio.acos()) / 3.0;
        let pc = (2.0 * p * w.cos() - a2 / (3.0 * a3)).clamp(0.0, 1.0);
        (pc, (pc + delta).clamp(0.0, 1.0))
    };
    let var = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc) * n / (n - 1.0);
    let num = xt / nt - xc / nc - delta;
    if var <= 0.0 {
        return if num == 0.0 {
            0.0
        } else {
            num.signum() * f64::INFINITY
        };
    }
    num / var.sqrt()
}

/// Score statistic for H0: p_t / p_c = R.
fn ratio_statistic(xt: f64, nt: f64, xc: f64, nc: f64, r: f64) -> f64 {
    let n = nt + nc;
    let b = -(r * nt + nc + xt + r * xc);
    let c = xt + xc;
    let disc = (b * b - 4.0 * r * n * c).max(0.0);
    // The smaller root, in the form without cancellation when R is small.
    let pc = if c == 0.0 {
        0.0
    } else {
        (2.0 * c / (-b + disc.sqrt())).clamp(0.0, 1.0)
    };
    let pt = (r * pc).clamp(0.0, 1.0);
    let var = (pt * (1.0 - pt) / nt + r * r * pc * (1.0 - pc) / nc) * n / (n - 1.0);
    let num = xt / nt - r * xc / nc;
    if var <= 0.0 {
        return if num == 0.0 {
            0.0
        } else {
            num.signum() * f64::INFINITY
        };
    }
    num / var.sqrt()
}

/// A score interval with the p-value of "no difference".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreResult {
    pub estimate: f64,
    pub ci: Interval,
    pub p_value: f64,
    pub statistic: f64,
}

fn counts(
    control: &Proportion,
    treatment: &Proportion,
) -> Result<(f64, f64, f64, f64), StatsError> {
    control.rate().map_err(|e| e.in_arm(Arm::Control))?;
    treatment.rate().map_err(|e| e.in_arm(Arm::Treatment))?;
    let (xt, nt, xc, nc) = (
        treatment.successes,
        treatment.n,
        control.successes,
        control.n,
    );
    if xt + xc == 0.0 || xt + xc == nt + nc {
        // Nobody (or everybody) converted: no variance under any hypothesis near 0.
        return Err(StatsError::ZeroVariance);
    }
    Ok((xt, nt, xc, nc))
}

/// Bisection for the root of a decreasing `f` in (lo, hi).
fn root_decreasing(mut lo: f64, mut hi: f64, target: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid == lo || mid == hi {
            break;
        }
        if f(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Miettinen–Nurminen score test and interval for p_t − p_c.
///
/// Shapes: counts per arm; the result is a difference of rates in [−1, 1].
/// Errors: an empty arm, impossible counts, or no variance (no conversions
/// at all, or all converted).
pub fn score_difference(
    control: &Proportion,
    treatment: &Proportion,
    alpha: f64,
) -> Result<ScoreResult, StatsError> {
    ensure_alpha(alpha)?;
    let (xt, nt, xc, nc) = counts(control, treatment)?;
    let z = normal_upper_quantile(alpha / 2.0);
    let stat = |d: f64| diff_statistic(xt, nt, xc, nc, d);
    let estimate = xt / nt - xc / nc;
    let eps = 1e-12;
    // The statistic falls as δ rises; it is +∞ at δ → −1 and −∞ at δ → 1
    // unless the observed difference sits at that end.
    let lower = if stat(-1.0 + eps) <= z {
        -1.0
    } else {
        root_decreasing(-1.0 + eps, estimate, z, stat)
    };
    let upper = if stat(1.0 - eps) >= -z {
        1.0
    } else {
        root_decreasing(estimate, 1.0 - eps, -z, stat)
    };
    let statistic = stat(0.0);
    Ok(ScoreResult {
        estimate,
        ci: Interval { lower, upper },
        p_value: normal_two_sided_p(statistic),
        statistic,
    })
}

/// Miettinen–Nurminen score test and interval for p_t / p_c, reported as a
/// relative lift p_t / p_c − 1.
///
/// Errors: as [`score_difference`], and [`StatsError::ZeroControlMean`] when
/// the control converted nobody (the ratio has no upper bound).
pub fn score_ratio(
    control: &Proportion,
    treatment: &Proportion,
    alpha: f64,
) -> Result<ScoreResult, StatsError> {
    ensure_alpha(alpha)?;
    let (xt, nt, xc, nc) = counts(control, treatment)?;
    if xc == 0.0 {
        return Err(StatsError::ZeroControlMean);
    }
    let z = normal_upper_quantile(alpha / 2.0);
    // Searched over log R; the statistic falls as R rises.
    let stat = |s: f64| ratio_statistic(xt, nt, xc, nc, s.exp());
    let log_estimate = if xt > 0.0 {
        ((xt / nt) / (xc / nc)).ln()
    } else {
        -745.0
    };
    let lower = if xt == 0.0 {
        0.0
    } else {
        let mut lo = log_estimate - 1.0;
        while stat(lo) <= z && lo > -700.0 {
            lo -= 2.0 * (log_estimate - lo);
        }
        root_decreasing(lo.max(-700.0), log_estimate, z, stat).exp()
    };
    let mut hi = log_estimate.max(-700.0) + 1.0;
    while stat(hi) >= -z && hi < 700.0 {
        hi += 2.0 * (hi - log_estimate.max(-700.0));
    }
    let upper = root_decreasing(log_estimate.max(-700.0), hi.min(700.0), -z, stat).exp();
    let statistic = stat(0.0);
    Ok(ScoreResult {
        estimate: (xt / nt) / (xc / nc) - 1.0,
        ci: Interval {
            lower: lower - 1.0,
            upper: upper - 1.0,
        },
        p_value: normal_two_sided_p(statistic),
        statistic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::assert_rel;

    fn p(successes: f64, n: f64) -> Proportion {
        Proportion { n, successes }
    }

    /// (control successes, n, treatment successes, n, alpha, difference p,
    /// lower, upper, ratio p, lower, upper)
    type ScoreCase = (f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64);

    // tests/reference/intervals_reference.py: statsmodels
    // test_proportions_2indep / confint_proportions_2indep (method="score");
    // NaN where statsmodels' root finder fails (an arm without successes).
    #[rustfmt::skip]
    const SCORE_CASES: &[ScoreCase] = &[
        (48.0, 1000.0, 67.0, 1050.0, 0.05, 0.12006153975970062, -0.0041963328809576945, 0.03595310412214335, 0.12006153975970062, -0.07084634281721636, 0.9033199268726275),
        (48.0, 1000.0, 67.0, 1050.0, 0.1, 0.12006153975970062, -0.0009309714413384215, 0.032647807507046635, 0.12006153975970062, -0.016277308290022607, 0.7973682071892281),
        (0.0, 150.0, 6.0, 150.0, 0.05, 0.013502585724311447, 0.01466079490360615, 0.08461124234800121, f64::NAN, f64::NAN, f64::NAN),
        (11.0, 1800.0, 0.0, 200.0, 0.05, 0.2677248275040287, f64::NAN, f64::NAN, 0.2677248275040287, -1.0000000000000364, 2.100379373940358),
        (11.0, 1800.0, 4.0, 200.0, 0.05, 0.03083218880369071, 0.0008344969375742533, 0.04421326583302409, 0.03083218880369071, 0.10483726957095096, 8.591668751619183),
        (122.0, 19175.0, 10.0, 2131.0, 0.05, 0.3513752010451108, f64::NAN, f64::NAN, 0.3513752010451108, -0.6084222519367846, 0.3869790016590755),
        (2.0, 7.0, 5.0, 9.0, 0.05, 0.29598103147590427, -0.22427392686269598, 0.6387290776182238, 0.29598103147590427, -0.4040977778263264, 6.659616211315299),
    ];

    #[test]
    fn score_tests_and_intervals_match_statsmodels() {
        for &(xc, nc, xt, nt, alpha, dp, dl, du, rp, rl, ru) in SCORE_CASES {
            let (c, t) = (p(xc, nc), p(xt, nt));
            let d = score_difference(&c, &t, alpha).expect("difference");
            assert_rel(d.p_value, dp, 1e-9, "difference p");
            if dl.is_finite() {
                // statsmodels' brentq stops at xtol 2e-12.
                assert!((d.ci.lower - dl).abs() < 1e-9, "{} vs {dl}", d.ci.lower);
                assert!((d.ci.upper - du).abs() < 1e-9, "{} vs {du}", d.ci.upper);
            }
            if rp.is_finite() {
                let r = score_ratio(&c, &t, alpha).expect("ratio");
                assert_rel(r.p_value, rp, 1e-9, "ratio p");
                assert!(
                    (r.ci.lower - rl).abs() < 1e-8 * rl.abs().max(1.0),
                    "{} vs {rl}",
                    r.ci.lower
                );
                assert!(
                    (r.ci.upper - ru).abs() < 1e-8 * ru.abs().max(1.0),
                    "{} vs {ru}",
                    r.ci.upper
                );
            } else {
                assert!(
                    score_ratio(&c, &t, alpha).is_err(),
                    "no control conversions"
                );
            }
        }
    }

    #[test]
    fn interval_and_p_value_agree() {
        for (xc, nc, xt, nt) in [
            (0.0, 150.0, 6.0, 150.0),
            (11.0, 1800.0, 0.0, 200.0),
            (48.0, 1000.0, 67.0, 1050.0),
            (3.0, 40.0, 3.0, 38.0),
        ] {
            let r = score_difference(&p(xc, nc), &p(xt, nt), 0.05).expect("score");
            assert_eq!(r.ci.contains(0.0), r.p_value >= 0.05, "{r:?}");
            assert!(r.ci.lower <= r.estimate && r.estimate <= r.ci.upper);
        }
        assert_rel(
            score_difference(&p(48.0, 1000.0), &p(67.0, 1050.0), 0.05)
                .unwrap()
                .p_value,
            score_ratio(&p(48.0, 1000.0), &p(67.0, 1050.0), 0.05)
                .unwrap()
                .p_value,
            1e-12,
            "the same null",
        );
    }
}
