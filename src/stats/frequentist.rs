//! Fixed-horizon two-sided t tests with unequal variances (Welch).
//!
//! The absolute test matches scipy's `ttest_ind_from_stats(equal_var=False)`
//! (statistic and p-value) and gbstats' `TwoSidedTTest` with
//! `difference_type="absolute"`; the interval is `estimate ± t.ppf(1 − α/2,
//! df) · se`. Relative lifts live in [`super::relative`]; [`t_test`] picks
//! either by [`EffectScale`].

use serde::Serialize;

use super::dist::{t_two_sided_p, t_upper_quantile};
use super::error::{ensure_alpha, ensure_finite, Arm, StatsError};
use super::moments::ArmSummary;
use super::relative::delta_method_test;
use super::{EffectScale, Interval};

/// Result of a fixed-horizon two-sided t test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrequentistResult {
    pub scale: EffectScale,
    /// Point estimate of the effect (absolute or relative).
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub std_error: f64,
    /// `estimate / std_error`.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    pub p_value: f64,
    pub alpha: f64,
    /// The (1 − alpha) confidence interval.
    pub ci: Interval,
}

/// Check both arms can enter a t-type test, naming the arm that cannot.
pub(crate) fn ensure_pair_testable(
    control: &ArmSummary,
    treatment: &ArmSummary,
) -> Result<(), StatsError> {
    control
        .ensure_testable()
        .map_err(|e| e.in_arm(Arm::Control))?;
    treatment
        .ensure_testable()
        .map_err(|e| e.in_arm(Arm::Treatment))?;
    if control.variance == 0.0 && treatment.variance == 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    Ok(())
}

/// Welch–Satterthwaite degrees of freedom,
/// `(v_t/n_t + v_c/n_c)² / ((v_t/n_t)²/(n_t − 1) + (v_c/n_c)²/(n_c − 1))`,
/// always from the arms' own (absolute-scale) variances. gbstats uses this
/// same df for relative lifts, and so do we.
pub fn welch_df(control: &ArmSummary, treatment: &ArmSummary) -> f64 {
    let vt = treatment.variance_of_mean();
    let vc = control.variance_of_mean();
    (vt + vc).powi(2) / (vt.powi(2) / (treatment.n - 1.0) + vc.powi(2) / (control.n - 1.0))
}

/// Assemble a two-sided t result from an estimate, its variance and df.
pub(crate) fn two_sided_t_result(
    scale: EffectScale,
    estimate: f64,
    variance: f64,
    df: f64,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(StatsError::ZeroStandardError);
    }
    ensure_finite(estimate, "effect estimate")?;
    let std_error = variance.sqrt();
    let statistic = estimate / std_error;
    let half_width = t_upper_quantile(alpha / 2.0, df)? * std_error;
    Ok(FrequentistResult {
        scale,
        estimate,
        std_error,
        statistic,
        df,
        p_value: t_two_sided_p(statistic, df)?,
        alpha,
        ci: Interval::around(estimate, half_width),
    })
}

/// Welch's t test for treatment − control.
pub fn welch_test(
    control: &ArmSummary,
    treatment: &ArmSummary,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    ensure_alpha(alpha)?;
    ensure_pair_testable(control, treatment)?;
    let estimate = treatment.mean - control.mean;
    let variance = treatment.variance_of_mean() + control.variance_of_mean();
    two_sided_t_result(
        EffectScale::Absolute,
        estimate,
        variance,
        welch_df(control, treatment),
        alpha,
    )
}

/// Two-sided t test on either scale: Welch for absolute, the delta method
/// for relative.
pub fn t_test(
    control: &ArmSummary,
    treatment: &ArmSummary,
    scale: EffectScale,
    alpha: f64,
) -> Result<FrequentistResult, StatsError> {
    match scale {
        EffectScale::Absolute => welch_test(control, treatment, alpha),
        EffectScale::Relative => delta_method_test(control, treatment, alpha),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::moments::{Proportion, SampleMean, Summarize};
    use crate::stats::testutil::assert_rel;

    struct WelchCase {
        name: &'static str,
        alpha: f64,
        control: SampleMean,
        treatment: SampleMean,
        estimate: f64,
        statistic: f64,
        df: f64,
        p_value: f64,
        ci_lower: f64,
        ci_upper: f64,
    }

    // Printed by tests/reference/stats_reference.py: scipy
    // ttest_ind_from_stats(equal_var=False) for statistic, df and p-value;
    // CI = estimate ± scipy.stats.t.ppf(1 - alpha/2, df) * se.
    #[rustfmt::skip]
    const WELCH_CASES: &[WelchCase] = &[
        WelchCase { name: "revenue_unequal_n", alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 3.200416666666669, statistic: 1.0338527485271112, df: 2502.357004500019, p_value: 0.3013049101081511, ci_lower: -2.869825828011993, ci_upper: 9.270659161345332 },
        WelchCase { name: "revenue_unequal_n", alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, estimate: 3.200416666666669, statistic: 1.0338527485271112, df: 2502.357004500019, p_value: 0.3013049101081511, ci_lower: -1.8933131092561641, ci_upper: 8.294146442589502 },
        WelchCase { name: "small_n", alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 2.25, statistic: 0.5369905460663286, df: 5.580338180411447, p_value: 0.6119932080638543, ci_lower: -8.19243759239743, ci_upper: 12.69243759239743 },
        WelchCase { name: "small_n", alpha: 0.1, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, estimate: 2.25, statistic: 0.5369905460663286, df: 5.580338180411447, p_value: 0.6119932080638543, ci_lower: -6.002942183566084, ci_upper: 10.502942183566084 },
        WelchCase { name: "negative_net_revenue", alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: 2.103154761904762, statistic: 0.9219205088574209, df: 577.9930530247075, p_value: 0.35695469369227806, ci_lower: -2.3774456527449996, ci_upper: 6.583755176554524 },
        WelchCase { name: "negative_net_revenue", alpha: 0.1, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, estimate: 2.103154761904762, statistic: 0.9219205088574209, df: 577.9930530247075, p_value: 0.35695469369227806, ci_lower: -1.65523354309728, ci_upper: 5.861543066906804 },
        WelchCase { name: "large_n", alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.056224899598393385, statistic: 1.7686701304532624, df: 498791.0376771342, p_value: 0.07694955081233135, ci_lower: -0.006081261261361881, ci_upper: 0.11853106045814865 },
        WelchCase { name: "large_n", alpha: 0.1, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, estimate: 0.056224899598393385, statistic: 1.7686701304532624, df: 498791.0376771342, p_value: 0.07694955081233135, ci_lower: 0.003935950856513312, ci_upper: 0.10851384834027346 },
        WelchCase { name: "clear_win", alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 3.5, statistic: 5.111246174000561, df: 8091.671753786404, p_value: 3.273655669470079e-07, ci_lower: 2.1576854305748467, ci_upper: 4.842314569425153 },
        WelchCase { name: "clear_win", alpha: 0.1, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, estimate: 3.5, statistic: 5.111246174000561, df: 8091.671753786404, p_value: 3.273655669470079e-07, ci_lower: 2.3735336411738617, ci_upper: 4.626466358826138 },
    ];

    fn summaries(c: &SampleMean, t: &SampleMean) -> (ArmSummary, ArmSummary) {
        (
            c.summarize().expect("control"),
            t.summarize().expect("treatment"),
        )
    }

    #[test]
    fn welch_matches_scipy_to_1e9() {
        for case in WELCH_CASES {
            let (c, t) = summaries(&case.control, &case.treatment);
            let r = welch_test(&c, &t, case.alpha).expect(case.name);
            assert_rel(r.estimate, case.estimate, 1e-12, case.name);
            assert_rel(r.statistic, case.statistic, 1e-9, case.name);
            assert_rel(r.df, case.df, 1e-9, case.name);
            assert_rel(r.p_value, case.p_value, 1e-9, case.name);
            assert_rel(r.ci.lower, case.ci_lower, 1e-9, case.name);
            assert_rel(r.ci.upper, case.ci_upper, 1e-9, case.name);
            assert_eq!(r.scale, EffectScale::Absolute);
        }
    }

    #[test]
    fn t_test_dispatches_on_scale() {
        let case = &WELCH_CASES[0];
        let (c, t) = summaries(&case.control, &case.treatment);
        let abs = t_test(&c, &t, EffectScale::Absolute, 0.05).expect("absolute");
        let rel = t_test(&c, &t, EffectScale::Relative, 0.05).expect("relative");
        assert_eq!(abs, welch_test(&c, &t, 0.05).expect("welch"));
        assert_eq!(rel.scale, EffectScale::Relative);
        assert_eq!(rel.df, abs.df);
    }

    #[test]
    fn welch_on_proportions_uses_bernoulli_variances() {
        // gbstats treats a binomial metric as a mean with variance p(1-p).
        let c = Proportion {
            n: 1000.0,
            successes: 48.0,
        }
        .summarize()
        .expect("control");
        let t = Proportion {
            n: 1050.0,
            successes: 67.0,
        }
        .summarize()
        .expect("treatment");
        let r = welch_test(&c, &t, 0.05).expect("welch");
        assert_rel(r.df, 2033.39252770589, 1e-9, "df");
    }

    #[test]
    fn degenerate_arms_are_errors_naming_the_arm() {
        let ok = ArmSummary::new(10.0, 1.0, 2.0);
        let one_unit = ArmSummary::new(1.0, 1.0, 0.0);
        let flat = ArmSummary::new(10.0, 1.0, 0.0);
        assert_eq!(
            welch_test(&one_unit, &ok, 0.05),
            Err(StatsError::TooFewUnits { n: 1.0, needed: 2 }.in_arm(Arm::Control))
        );
        // One arm without variance is defined (scipy computes it, df = n − 1
        // of the other arm); both without is not.
        let r = welch_test(&ok, &flat, 0.05).expect("one flat arm");
        assert_rel(r.df, 9.0, 1e-12, "df of the varying arm");
        assert_rel(r.std_error, (2.0f64 / 10.0).sqrt(), 1e-12, "se");
        assert_eq!(
            welch_test(&flat, &flat, 0.05),
            Err(StatsError::ZeroVariance)
        );
        assert!(welch_test(&ok, &ArmSummary::new(10.0, f64::NAN, 1.0), 0.05).is_err());
        assert!(welch_test(&ok, &ok, 1.5).is_err());
    }

    #[test]
    fn result_serializes_with_snake_case_fields() {
        let case = &WELCH_CASES[2];
        let (c, t) = summaries(&case.control, &case.treatment);
        let r = welch_test(&c, &t, 0.05).expect("welch");
        let fields = serde_field_names(&r);
        assert_eq!(
            fields,
            [
                "scale",
                "estimate",
                "std_error",
                "statistic",
                "df",
                "p_value",
                "alpha",
                "ci"
            ]
        );
    }

    /// Field names as serde sees them, without a JSON dependency.
    fn serde_field_names<T: Serialize>(value: &T) -> Vec<&'static str> {
        crate::stats::testutil::field_names(value)
    }
}
