//! Relative lift, treatment / control − 1: the delta method (as gbstats) and
//! Fieller's interval beside it.
//!
//! Delta method (gbstats `frequentist_variance`, relative): with μ the
//! unadjusted means,
//! `var = var_t / (n_t μ_c²) + var_c μ_t² / (n_c μ_c⁴)`,
//! and the point estimate `(mean_t − mean_c) / μ_c` (= μ_t/μ_c − 1 without
//! CUPED). The interval uses Student's t with the **Welch–Satterthwaite df of
//! the absolute difference** ([`welch_df`]), exactly as gbstats'
//! `TwoSidedTTest.dof` does for relative results; it is not a df derived for
//! the ratio.
//!
//! Fieller's interval inverts the test of `μ_t − R μ_c = 0` for the ratio R
//! of the arms' means (independent arms, so no covariance term), with the
//! same critical value t(1 − α/2, Welch df). It is honest when the control
//! mean is noisy: the set is a bounded interval only if the control mean is
//! significantly non-zero; otherwise it is two unbounded rays or the whole
//! line, reported as such with a note rather than as a misleading interval.

use serde::Serialize;

use super::dist::t_upper_quantile;
use super::error::{ensure_alpha, StatsError};
use super::frequentist::{ensure_pair_testable, two_sided_t_result, welch_df, FrequentistResult};
use super::moments::ArmSummary;
use super::EffectScale;

fn ensure_nonzero_control_mean(control: &ArmSummary) -> Result<(), StatsError> {
    if control.unadjusted_mean == 0.0 || control.mean == 0.0 {
        Err(StatsError::ZeroControlMean)
    } else {
        Ok(())
    }
}

/// Point estimate of the relative lift: (mean_t − mean_c) / unadjusted μ_c.
pub fn relative_lift(control: &ArmSummary, treatment: &ArmSummary) -> Result<f64, StatsError> {
    ensure_nonzero_control_mean(control)?;
    Ok((treatment.mean - control.mean) / control.unadjusted_mean)
}

/// Delta-method variance of the relative lift (see the module docs).
pub fn delta_method_variance(
    control: &ArmSummary,
    treatment: &ArmSummary,
) -> Result<f64, StatsError> {
    ensure_nonzero_control_mean(control)?;
    let mu_c = control.unadjusted_mean;
    let mu_t = treatment.unadjusted_mean;
    Ok(treatment.variance / (mu_c.powi(2) * treatment.n)
        + control.variance * mu_t.powi(2) / (mu_c.powi(4) * control.n))
}

/// Two-sided t test of the relative lift by the delta method.
pub fn delta_method_test(
    control: &ArmSummary,
    treatment: &ArmSummary,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    ensure_alpha(alpha)?;
    ensure_pair_testable(control, treatment)?;
    two_sided_t_result(
        EffectScale::Relative,
        relative_lift(control, treatment)?,
        delta_method_variance(control, treatment)?,
        welch_df(control, treatment),
        alpha,
    )
}

/// Fieller's confidence set for treatment / control − 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FiellerInterval {
    /// `[lower, upper]`: the control mean is significantly non-zero.
    Bounded { lower: f64, upper: f64 },
    /// `(−∞, below] ∪ [above, ∞)`: the control mean is not significantly
    /// non-zero, but the treatment mean is.
    Exclusive { below: f64, above: f64 },
    /// The whole real line: neither mean is distinguishable from zero.
    Unbounded,
}

/// Fieller's set with what produced it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FiellerResult {
    pub interval: FiellerInterval,
    /// Why the set is not a bounded interval, when it is not.
    pub note: Option<&'static str>,
    /// t(1 − α/2, df) used for the set.
    pub critical_value: f64,
    /// Welch–Satterthwaite df.
    pub df: f64,
    pub alpha: f64,
}

const EXCLUSIVE_NOTE: &str = "the control mean is not significantly different from zero at this \
alpha, so Fieller's set is two unbounded rays and no finite interval bounds the lift";
const UNBOUNDED_NOTE: &str = "neither mean is significantly different from zero at this alpha, \
so Fieller's set is the whole real line: the data bound no lift";

/// Fieller's interval for the ratio of the arms' `mean`s, minus 1. With CUPED
/// summaries it is the ratio of adjusted means; use unadjusted summaries for
/// a plain ratio.
pub fn fieller_interval(
    control: &ArmSummary,
    treatment: &ArmSummary,
    alpha: f64,
) -> Result<FiellerResult, StatsError> {
    ensure_alpha(alpha)?;
    ensure_pair_testable(control, treatment)?;
    let df = welch_df(control, treatment);
    let q = t_upper_quantile(alpha / 2.0, df)?;
    let interval = fieller_ratio_set(
        control.mean,
        control.variance_of_mean(),
        treatment.mean,
        treatment.variance_of_mean(),
        q,
    );
    let note = match interval {
        FiellerInterval::Bounded { .. } => None,
        FiellerInterval::Exclusive { .. } => Some(EXCLUSIVE_NOTE),
        FiellerInterval::Unbounded => Some(UNBOUNDED_NOTE),
    };
    Ok(FiellerResult {
        interval: shift_by_minus_one(interval),
        note,
        critical_value: q,
        df,
        alpha,
    })
}

/// The set {R : (m_t − R m_c)² ≤ q² (v_t + R² v_c)}, i.e. the quadratic
/// `a R² − 2 b R + c ≤ 0` with a = m_c² − q² v_c, b = m_t m_c,
/// c = m_t² − q² v_t.
fn fieller_ratio_set(m_c: f64, v_c: f64, m_t: f64, v_t: f64, q: f64) -> FiellerInterval {
    let q2 = q * q;
    let a = m_c * m_c - q2 * v_c;
    let b = m_t * m_c;
    let c = m_t * m_t - q2 * v_t;
    // b² − a c, expanded so no large terms cancel.
    let discriminant = q2 * (v_c * m_t * m_t + v_t * a);
    if a == 0.0 || discriminant <= 0.0 {
        // a > 0 implies a positive discriminant, so here a ≤ 0.
        return FiellerInterval::Unbounded;
    }
    let (r1, r2) = quadratic_roots(a, b, c, discriminant.sqrt());
    let (low, high) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
    if a > 0.0 {
        FiellerInterval::Bounded {
            lower: low,
            upper: high,
        }
    } else {
        FiellerInterval::Exclusive {
            below: low,
            above: high,
        }
    }
}

/// Roots of `a R² − 2 b R + c` given √(b² − a c), without cancellation:
/// one from `(b + sign(b)·√D) / a`, the other from the product `c / a`.
fn quadratic_roots(a: f64, b: f64, c: f64, sqrt_disc: f64) -> (f64, f64) {
    let s = b + sqrt_disc.copysign(b);
    if s == 0.0 {
        return (-sqrt_disc / a, sqrt_disc / a);
    }
    (s / a, c / s)
}

fn shift_by_minus_one(interval: FiellerInterval) -> FiellerInterval {
    match interval {
        FiellerInterval::Bounded { lower, upper } => FiellerInterval::Bounded {
            lower: lower - 1.0,
            upper: upper - 1.0,
        },
        FiellerInterval::Exclusive { below, above } => FiellerInterval::Exclusive {
            below: below - 1.0,
            above: above - 1.0,
        },
        FiellerInterval::Unbounded => FiellerInterval::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::error::Arm;
    use crate::stats::moments::{Proportion, Ratio, SampleMean, Summarize};
    use crate::stats::testutil::{assert_rel, field_names};

    struct DeltaCase {
        name: &'static str,
        alpha: f64,
        control: SampleMean,
        treatment: SampleMean,
        estimate: f64,
        std_error: f64,
        df: f64,
        p_value: f64,
        ci_lower: f64,
        ci_upper: f64,
    }

    // tests/reference/stats_reference.py: gbstats TwoSidedTTest,
    // difference_type="relative" (expected, uplift.stddev, dof, p_value, ci).
    #[rustfmt::skip]
    const DELTA_CASES: &[DeltaCase] = &[
        DeltaCase { name: "revenue_unequal_n", alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 0.07069944681203581, std_error: 0.0710263317850119, df: 2502.3570045000183, p_value: 0.3196391216146015, ci_lower: -0.06857697147401977, ci_upper: 0.2099758650980914 },
        DeltaCase { name: "revenue_unequal_n", alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 0.07069944681203581, std_error: 0.0710263317850119, df: 2502.3570045000183, p_value: 0.3196391216146015, ci_lower: -0.046171739063895115, ci_upper: 0.18757063268796675 },
        DeltaCase { name: "small_n", alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 0.5, std_error: 1.102606339878717, df: 5.580338180411447, p_value: 0.6673055840380919, ci_lower: -2.247935252001226, ci_upper: 3.247935252001226 },
        DeltaCase { name: "small_n", alpha: 0.1, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 0.5, std_error: 1.102606339878717, df: 5.580338180411447, p_value: 0.6673055840380919, ci_lower: -1.671767899811078, ci_upper: 2.671767899811078 },
        DeltaCase { name: "negative_net_revenue", alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: -0.4149598346408606, std_error: 0.36528270661285983, df: 577.9930530247075, p_value: 0.25642887628747646, ci_lower: -1.1324031136488784, ci_upper: 0.30248344436715713 },
        DeltaCase { name: "negative_net_revenue", alpha: 0.1, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: -0.4149598346408606, std_error: 0.36528270661285983, df: 577.9930530247075, p_value: 0.25642887628747646, ci_lower: -1.0167609728342617, ci_upper: 0.18684130355254036 },
        DeltaCase { name: "large_n", alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.014056224899598346, std_error: 0.008002365002278163, df: 498791.0376771342, p_value: 0.07900217622793604, ci_lower: -0.0016281603556871707, ci_upper: 0.029740610154883863 },
        DeltaCase { name: "large_n", alpha: 0.1, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.014056224899598346, std_error: 0.008002365002278163, df: 498791.0376771342, p_value: 0.07900217622793604, ci_lower: 0.0008934813547420116, ci_upper: 0.02721896844445468 },
        DeltaCase { name: "clear_win", alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 0.0875, std_error: 0.01785357273899244, df: 8091.671753786404, p_value: 9.72131976029189e-07, ci_lower: 0.05250240545553333, ci_upper: 0.12249759454446665 },
        DeltaCase { name: "clear_win", alpha: 0.1, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 0.0875, std_error: 0.01785357273899244, df: 8091.671753786404, p_value: 9.72131976029189e-07, ci_lower: 0.05813012367431722, ci_upper: 0.11686987632568277 },
    ];

    struct DeltaProportionCase {
        name: &'static str,
        alpha: f64,
        control: Proportion,
        treatment: Proportion,
        estimate: f64,
        std_error: f64,
        df: f64,
        p_value: f64,
        ci_lower: f64,
        ci_upper: f64,
    }

    // Same script: gbstats TwoSidedTTest on ProportionStatistic, relative.
    #[rustfmt::skip]
    const DELTA_PROPORTION_CASES: &[DeltaProportionCase] = &[
        DeltaProportionCase { name: "conversion_unequal_n", alpha: 0.05, control: Proportion { n: 1000.0, successes: 48.0 }, treatment: Proportion { n: 1050.0, successes: 67.0 }, estimate: 0.32936507936507947, std_error: 0.24442366437109062, df: 2033.39252770589, p_value: 0.17796385612979337, ci_lower: -0.1499818252305073, ci_upper: 0.8087119839606662 },
        DeltaProportionCase { name: "large", alpha: 0.05, control: Proportion { n: 20000.0, successes: 1500.0 }, treatment: Proportion { n: 20500.0, successes: 1620.0 }, estimate: 0.0536585365853659, std_error: 0.03627356484421473, df: 40497.977880189435, p_value: 0.13907491210176115, ci_lower: -0.017438468978177996, ci_upper: 0.1247555421489098 },
        DeltaProportionCase { name: "small_n", alpha: 0.05, control: Proportion { n: 7.0, successes: 2.0 }, treatment: Proportion { n: 9.0, successes: 5.0 }, estimate: 0.9444444444444446, std_error: 1.2986090479946644, df: 13.583800322935183, p_value: 0.4794060342168722, ci_lower: -1.8488223887470543, ci_upper: 3.7377112776359436 },
    ];

    struct RatioCase {
        name: &'static str,
        control: Ratio,
        treatment: Ratio,
        /// (estimate, p_value, ci_lower, ci_upper)
        absolute: (f64, f64, f64, f64),
        relative: (f64, f64, f64, f64),
    }

    // Same script: gbstats TwoSidedTTest on RatioStatistic (revenue per cart,
    // customers as units), alpha 0.05.
    #[rustfmt::skip]
    const RATIO_CASES: &[RatioCase] = &[
        RatioCase { name: "revenue_per_cart", control: Ratio { n: 800.0, sum_num: 20937.88461408953, sum_num2: 2638736.107690129, sum_den: 1276.0, sum_den2: 2510.0, sum_num_den: 43021.58814305643 }, treatment: Ratio { n: 900.0, sum_num: 29778.888382229696, sum_num2: 4211178.8439361015, sum_den: 1469.0, sum_den2: 2975.0, sum_num_den: 63768.00887916906 }, absolute: (3.862536879003894, 0.014503198395761974, 0.7666520860959731, 6.958421671911815), relative: (0.2353913563117267, 0.028568984438754885, 0.024695560720105092, 0.4460871519033483) },
        RatioCase { name: "small_with_refunds", control: Ratio { n: 25.0, sum_num: 238.08009039600444, sum_num2: 12475.15303491843, sum_den: 33.0, sum_den2: 53.0, sum_num_den: 426.46498293326266 }, treatment: Ratio { n: 30.0, sum_num: 727.203004516575, sum_num2: 67883.86659216031, sum_den: 44.0, sum_den2: 82.0, sum_num_den: 1534.2652341305704 }, absolute: (9.312792817922023, 0.09463623233194451, -1.6686700172045015, 20.29425565304855), relative: (1.2908352079346503, 0.25991297978890016, -0.9857211937315955, 3.567391609600896) },
    ];

    struct FiellerCase {
        name: &'static str,
        alpha: f64,
        control: SampleMean,
        treatment: SampleMean,
        kind: &'static str,
        first: f64,
        second: f64,
    }

    // Same script: endpoints found by scipy.optimize.brentq on Fieller's
    // inequality with q = scipy.stats.t.ppf(1 - alpha/2, Welch df);
    // "Unbounded" where the inequality holds everywhere (its maximum is
    // not positive), so brentq has no root to find.
    #[rustfmt::skip]
    const FIELLER_CASES: &[FiellerCase] = &[
        FiellerCase { name: "revenue_unequal_n", alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, kind: "Bounded", first: -0.05918697993800148, second: 0.22150353290769464 },
        FiellerCase { name: "revenue_unequal_n", alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, kind: "Bounded", first: -0.03945824276879628, second: 0.19554367667728556 },
        FiellerCase { name: "small_n", alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, kind: "Exclusive", first: -4.554800552452221, second: -1.5380384512304073 },
        FiellerCase { name: "small_n", alpha: 0.1, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, kind: "Exclusive", first: -37.37376707506165, second: -1.010354721398698 },
        FiellerCase { name: "negative_net_revenue", alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, kind: "Bounded", first: -1.0283211261605991, second: 0.9969498472912828 },
        FiellerCase { name: "negative_net_revenue", alpha: 0.1, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, kind: "Bounded", first: -0.9305690121684466, second: 0.5679825853134948 },
        FiellerCase { name: "large_n", alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, kind: "Bounded", first: -0.0015087847387690312, second: 0.02986278366562134 },
        FiellerCase { name: "large_n", alpha: 0.1, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, kind: "Bounded", first: 0.000977713070027031, second: 0.027304853846820576 },
        FiellerCase { name: "clear_win", alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, kind: "Bounded", first: 0.053075975160924216, second: 0.12309995804682039 },
        FiellerCase { name: "clear_win", alpha: 0.1, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, kind: "Bounded", first: 0.058535626556422526, second: 0.11729239389131374 },
        FiellerCase { name: "noise_only", alpha: 0.05, control: SampleMean { n: 10.0, sum: 5.0, sum_sq: 902.5 }, treatment: SampleMean { n: 10.0, sum: 3.0, sum_sq: 900.9 }, kind: "Unbounded", first: f64::NAN, second: f64::NAN },
        FiellerCase { name: "noise_only", alpha: 0.1, control: SampleMean { n: 10.0, sum: 5.0, sum_sq: 902.5 }, treatment: SampleMean { n: 10.0, sum: 3.0, sum_sq: 900.9 }, kind: "Unbounded", first: f64::NAN, second: f64::NAN },
    ];

    #[test]
    fn delta_method_matches_gbstats() {
        for case in DELTA_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = delta_method_test(&c, &t, case.alpha).expect(case.name);
            assert_rel(r.estimate, case.estimate, 1e-12, case.name);
            assert_rel(r.std_error, case.std_error, 1e-10, case.name);
            assert_rel(r.df, case.df, 1e-9, case.name);
            assert_rel(r.p_value, case.p_value, 1e-6, case.name);
            assert_rel(r.ci.lower, case.ci_lower, 1e-6, case.name);
            assert_rel(r.ci.upper, case.ci_upper, 1e-6, case.name);
        }
    }

    #[test]
    fn delta_method_on_conversion_rates_matches_gbstats() {
        for case in DELTA_PROPORTION_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = delta_method_test(&c, &t, case.alpha).expect(case.name);
            assert_rel(r.estimate, case.estimate, 1e-12, case.name);
            assert_rel(r.std_error, case.std_error, 1e-10, case.name);
            assert_rel(r.df, case.df, 1e-9, case.name);
            assert_rel(r.p_value, case.p_value, 1e-6, case.name);
            assert_rel(r.ci.lower, case.ci_lower, 1e-6, case.name);
            assert_rel(r.ci.upper, case.ci_upper, 1e-6, case.name);
        }
    }

    #[test]
    fn ratio_metrics_match_gbstats_on_both_scales() {
        for case in RATIO_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            for (scale, (estimate, p, lo, hi)) in [
                (EffectScale::Absolute, case.absolute),
                (EffectScale::Relative, case.relative),
            ] {
                let r = crate::stats::frequentist::t_test(&c, &t, scale, 0.05).expect(case.name);
                assert_rel(r.estimate, estimate, 1e-10, case.name);
                assert_rel(r.p_value, p, 1e-6, case.name);
                assert_rel(r.ci.lower, lo, 1e-6, case.name);
                assert_rel(r.ci.upper, hi, 1e-6, case.name);
            }
        }
    }

    #[test]
    fn fieller_matches_numerical_inversion() {
        for case in FIELLER_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = fieller_interval(&c, &t, case.alpha).expect(case.name);
            match (case.kind, r.interval) {
                ("Bounded", FiellerInterval::Bounded { lower, upper }) => {
                    assert_rel(lower, case.first, 1e-9, case.name);
                    assert_rel(upper, case.second, 1e-9, case.name);
                    assert_eq!(r.note, None);
                }
                ("Exclusive", FiellerInterval::Exclusive { below, above }) => {
                    assert_rel(below, case.first, 1e-9, case.name);
                    assert_rel(above, case.second, 1e-9, case.name);
                    assert_eq!(r.note, Some(EXCLUSIVE_NOTE));
                }
                ("Unbounded", FiellerInterval::Unbounded) => {
                    assert_eq!(r.note, Some(UNBOUNDED_NOTE));
                }
                (kind, got) => panic!("{}: expected {kind}, got {got:?}", case.name),
            }
        }
    }

    #[test]
    fn fieller_contains_the_delta_point_estimate_when_bounded() {
        let case = &DELTA_CASES[0];
        let c = case.control.summarize().expect("control");
        let t = case.treatment.summarize().expect("treatment");
        let r = fieller_interval(&c, &t, 0.05).expect("fieller");
        let FiellerInterval::Bounded { lower, upper } = r.interval else {
            panic!("expected a bounded interval");
        };
        assert!(lower < case.estimate && case.estimate < upper);
    }

    #[test]
    fn zero_control_mean_is_an_error() {
        let c = ArmSummary::new(100.0, 0.0, 4.0);
        let t = ArmSummary::new(100.0, 1.0, 4.0);
        assert_eq!(
            delta_method_test(&c, &t, 0.05),
            Err(StatsError::ZeroControlMean)
        );
        assert_eq!(
            delta_method_test(&ArmSummary::new(1.0, 2.0, 1.0), &t, 0.05),
            Err(StatsError::TooFewUnits { n: 1.0, needed: 2 }.in_arm(Arm::Control))
        );
    }

    #[test]
    fn fieller_serializes_its_kind() {
        let r = FiellerResult {
            interval: FiellerInterval::Unbounded,
            note: Some(UNBOUNDED_NOTE),
            critical_value: 2.0,
            df: 10.0,
            alpha: 0.05,
        };
        assert_eq!(
            field_names(&r),
            ["interval", "note", "critical_value", "df", "alpha"]
        );
    }
}
