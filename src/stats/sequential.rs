//! Always-valid inference for peeking: asymptotic confidence sequences
//! (Waudby-Smith, Ramdas et al. 2021, arXiv:2103.06476), as gbstats'
//! `SequentialTwoSidedTTest`.
//!
//! With N = n_c + n_t units so far and s² = N · var(effect) (absolute or
//! delta-method relative variance), the half-width at level alpha is
//! `√s² · √( 2(Nρ² + 1) / (Nρ)² · ln(√(Nρ² + 1) / alpha) )`  (eq. 9),
//! where ρ is tuned so the sequence is tightest at the planned total sample
//! size `planned_units` (gbstats' `sequential_tuning_parameter`, eq. 161):
//! `ρ² = (−2 ln alpha + ln(−2 ln alpha + 1)) / planned_units`.
//! The p-value is the reciprocal of the mixture e-value (eq. 155), capped
//! at 1, so p < alpha exactly when 0 is outside the sequence; both stay
//! valid however often the report is re-run (e.g. a monthly peek).

use serde::Serialize;

use super::error::{ensure_alpha, ensure_finite, ensure_positive, StatsError};
use super::frequentist::ensure_pair_testable;
use super::moments::ArmSummary;
use super::relative::{delta_method_variance, relative_lift};
use super::{EffectScale, Interval};

/// An always-valid interval and p-value at the current sample size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialResult {
    pub scale: EffectScale,
    pub estimate: f64,
    pub std_error: f64,
    /// Anytime-valid p-value.
    pub p_value: f64,
    pub alpha: f64,
    /// Confidence sequence at the current sample size.
    pub ci: Interval,
    /// Units (both arms) the sequence was tuned for.
    pub planned_units: f64,
    /// Mixture parameter ρ derived from `planned_units` and alpha.
    pub rho: f64,
}

/// ρ for a confidence sequence tightest at `planned_units` (eq. 161).
pub fn tuning_rho(alpha: f64, planned_units: f64) -> Result<f64, StatsError> {
    ensure_alpha(alpha)?;
    ensure_positive(
        planned_units,
        "planned units",
        "a positive planned sample size",
    )?;
    let log_alpha = alpha.ln();
    Ok(((-2.0 * log_alpha + (-2.0 * log_alpha + 1.0).ln()) / planned_units).sqrt())
}

/// Confidence sequence and anytime-valid p-value for the effect on `scale`.
pub fn sequential_test(
    control: &ArmSummary,
    treatment: &ArmSummary,
    scale: EffectScale,
    alpha: f64,
    planned_units: f64,
) -> Result<SequentialResult, StatsError> {
    let rho = tuning_rho(alpha, planned_units)?;
    ensure_pair_testable(control, treatment)?;
    let (estimate, variance) = match scale {
        EffectScale::Absolute => (
            treatment.mean - control.mean,
            treatment.variance_of_mean() + control.variance_of_mean(),
        ),
        EffectScale::Relative => (
            relative_lift(control, treatment)?,
            delta_method_variance(control, treatment)?,
        ),
    };
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(StatsError::ZeroStandardError);
    }
    ensure_finite(estimate, "effect estimate")?;
    let units = control.n + treatment.n;
    Ok(SequentialResult {
        scale,
        estimate,
        std_error: variance.sqrt(),
        p_value: anytime_p_value(estimate, variance, units, rho),
        alpha,
        ci: Interval::around(estimate, half_width(variance, units, rho, alpha)),
        planned_units,
        rho,
    })
}

/// Half-width of the asymptotic confidence sequence (eq. 9).
fn half_width(variance: f64, units: f64, rho: f64, alpha: f64) -> f64 {
    let s2 = variance * units;
    let n_rho2_plus_1 = units * rho * rho + 1.0;
    let radius2 = 2.0 * n_rho2_plus_1 * (n_rho2_plus_1.sqrt() / alpha).ln() / (units * rho).powi(2);
    s2.sqrt() * radius2.sqrt()
}

/// 1 / e-value of the Gaussian mixture martingale (eq. 155), capped at 1;
/// computed in logs so large statistics do not overflow.
fn anytime_p_value(estimate: f64, variance: f64, units: f64, rho: f64) -> f64 {
    let st2 = estimate * estimate * units / variance;
    let n_rho2_plus_1 = units * rho * rho + 1.0;
    let log_e_value = rho * rho * st2 / (2.0 * n_rho2_plus_1) - 0.5 * n_rho2_plus_1.ln();
    (-log_e_value).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::moments::{SampleMean, Summarize};
    use crate::stats::testutil::{assert_rel, field_names};

    struct SequentialCase {
        name: &'static str,
        scale: EffectScale,
        alpha: f64,
        planned_units: f64,
        control: SampleMean,
        treatment: SampleMean,
        estimate: f64,
        p_value: f64,
        ci_lower: f64,
        ci_upper: f64,
    }

    // tests/reference/stats_reference.py: gbstats SequentialTwoSidedTTest
    // with SequentialConfig(sequential_tuning_parameter=planned_units).
    #[rustfmt::skip]
    const SEQUENTIAL_CASES: &[SequentialCase] = &[
        SequentialCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 3.200416666666669, p_value: 1.0, ci_lower: -6.33622377297916, ci_upper: 12.737057106312498 },
        SequentialCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 3.200416666666669, p_value: 1.0, ci_lower: -7.359697156910926, ci_upper: 13.760530490244264 },
        SequentialCase { name: "revenue_unequal_n", scale: EffectScale::Relative, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 0.07069944681203581, p_value: 1.0, ci_lower: -0.14811044819301333, ci_upper: 0.289509341817085 },
        SequentialCase { name: "revenue_unequal_n", scale: EffectScale::Relative, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 0.07069944681203581, p_value: 1.0, ci_lower: -0.17159315209653692, ci_upper: 0.3129920457206085 },
        SequentialCase { name: "small_n", scale: EffectScale::Absolute, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 2.25, p_value: 1.0, ci_lower: -84.27359208544561, ci_upper: 88.77359208544561 },
        SequentialCase { name: "small_n", scale: EffectScale::Absolute, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 2.25, p_value: 1.0, ci_lower: -166.5301408067342, ci_upper: 171.0301408067342 },
        SequentialCase { name: "small_n", scale: EffectScale::Relative, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 0.5, p_value: 1.0, ci_lower: -22.268747882627643, ci_upper: 23.268747882627643 },
        SequentialCase { name: "small_n", scale: EffectScale::Relative, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 0.5, p_value: 1.0, ci_lower: -43.91462011687969, ci_upper: 44.91462011687969 },
        SequentialCase { name: "negative_net_revenue", scale: EffectScale::Absolute, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: 2.103154761904762, p_value: 1.0, ci_lower: -6.39020510541472, ci_upper: 10.596514629224243 },
        SequentialCase { name: "negative_net_revenue", scale: EffectScale::Absolute, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: 2.103154761904762, p_value: 1.0, ci_lower: -10.553923683098231, ci_upper: 14.760233206907754 },
        SequentialCase { name: "negative_net_revenue", scale: EffectScale::Relative, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: -0.4149598346408606, p_value: 1.0, ci_lower: -1.774934701643391, ci_upper: 0.9450150323616698 },
        SequentialCase { name: "negative_net_revenue", scale: EffectScale::Relative, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: -0.4149598346408606, p_value: 0.9843167948586313, ci_lower: -2.4416381861747967, ci_upper: 1.6117185168930757 },
        SequentialCase { name: "large_n", scale: EffectScale::Absolute, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.056224899598393385, p_value: 1.0, ci_lower: -0.05698861395376566, ci_upper: 0.1694384131505524 },
        SequentialCase { name: "large_n", scale: EffectScale::Absolute, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.056224899598393385, p_value: 1.0, ci_lower: -0.0429596417165244, ci_upper: 0.15540944091331116 },
        SequentialCase { name: "large_n", scale: EffectScale::Relative, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.014056224899598346, p_value: 1.0, ci_lower: -0.014443113498949951, ci_upper: 0.042555563298146644 },
        SequentialCase { name: "large_n", scale: EffectScale::Relative, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.014056224899598346, p_value: 1.0, ci_lower: -0.010911587847740684, ci_upper: 0.039024037646937376 },
        SequentialCase { name: "clear_win", scale: EffectScale::Absolute, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 3.5, p_value: 2.0290632106073993e-05, ci_lower: 1.4127915066895986, ci_upper: 5.587208493310401 },
        SequentialCase { name: "clear_win", scale: EffectScale::Absolute, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 3.5, p_value: 0.00015670348823099194, ci_lower: 1.5429368518073072, ci_upper: 5.457063148192693 },
        SequentialCase { name: "clear_win", scale: EffectScale::Relative, alpha: 0.05, planned_units: 5000.0, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 0.0875, p_value: 5.388279160107253e-05, ci_lower: 0.03308110427876298, ci_upper: 0.141918895721237 },
        SequentialCase { name: "clear_win", scale: EffectScale::Relative, alpha: 0.1, planned_units: 20000.0, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 0.0875, p_value: 0.00033413933218641694, ci_lower: 0.036474328284541176, ci_upper: 0.13852567171545882 },
    ];

    #[test]
    fn confidence_sequences_match_gbstats() {
        for case in SEQUENTIAL_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = sequential_test(&c, &t, case.scale, case.alpha, case.planned_units)
                .expect(case.name);
            assert_rel(r.estimate, case.estimate, 1e-12, case.name);
            assert_rel(r.p_value, case.p_value, 1e-9, case.name);
            assert_rel(r.ci.lower, case.ci_lower, 1e-9, case.name);
            assert_rel(r.ci.upper, case.ci_upper, 1e-9, case.name);
        }
    }

    #[test]
    fn sequence_is_wider_than_the_fixed_horizon_interval() {
        let case = &SEQUENTIAL_CASES[0];
        let c = case.control.summarize().expect("control");
        let t = case.treatment.summarize().expect("treatment");
        let seq = sequential_test(&c, &t, EffectScale::Absolute, 0.05, 5000.0).expect("sequential");
        let fixed = crate::stats::frequentist::welch_test(&c, &t, 0.05).expect("welch");
        assert!(seq.ci.lower < fixed.ci.lower && seq.ci.upper > fixed.ci.upper);
    }

    #[test]
    fn p_value_crosses_alpha_where_the_sequence_excludes_zero() {
        for case in SEQUENTIAL_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = sequential_test(&c, &t, case.scale, case.alpha, case.planned_units)
                .expect(case.name);
            assert_eq!(r.p_value < r.alpha, !r.ci.contains(0.0), "{}", case.name);
        }
    }

    #[test]
    fn planned_units_must_be_positive() {
        let c = ArmSummary::new(100.0, 10.0, 4.0);
        assert!(matches!(
            sequential_test(&c, &c, EffectScale::Absolute, 0.05, 0.0),
            Err(StatsError::InvalidParameter {
                name: "planned units",
                ..
            })
        ));
    }

    #[test]
    fn result_field_names_are_stable() {
        let c = ArmSummary::new(100.0, 10.0, 4.0);
        let t = ArmSummary::new(100.0, 11.0, 4.0);
        let r = sequential_test(&c, &t, EffectScale::Absolute, 0.05, 1000.0).expect("test");
        assert_eq!(
            field_names(&r),
            [
                "scale",
                "estimate",
                "std_error",
                "p_value",
                "alpha",
                "ci",
                "planned_units",
                "rho"
            ]
        );
    }
}
