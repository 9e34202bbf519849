//! CUPED: variance reduction with one pre-period covariate per unit (e.g.
//! the customer's revenue in the 30 days before entering the flow).
//!
//! Convention (gbstats `compute_theta` / `RegressionAdjustedStatistic`):
//! θ = cov(x, y) / var(x) computed on **both arms pooled as one sample** —
//! the sums are added across arms and the covariance is taken around the
//! pooled means (not within-arm centered). With randomization the arms
//! share the covariate's distribution, so this estimates the same slope
//! and keeps θ identical in both arms, which keeps the adjusted difference
//! unbiased. Each arm then gets
//! `mean_adj = ȳ − θ x̄` and `var_adj = var(y) + θ² var(x) − 2θ cov(x, y)`
//! (within-arm moments), and the unadjusted ȳ is kept for relative lifts.
//!
//! As in gbstats, when the pooled variance of the covariate or of the
//! metric is zero, θ is 0 and the arms fall back to their unadjusted
//! summaries (`adjusted == false`).

use serde::Serialize;

use super::error::{Arm, StatsError};
use super::moments::{ArmSummary, RegressionAdjusted, SampleMean};

/// Both arms after regression adjustment, ready for any two-arm test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CupedAdjustment {
    /// Pooled slope of the metric on the covariate.
    pub theta: f64,
    /// False when θ fell back to 0 (no pooled variance to regress on).
    pub adjusted: bool,
    pub control: ArmSummary,
    pub treatment: ArmSummary,
}

fn ensure_arm_has_variance(stat: &RegressionAdjusted, arm: Arm) -> Result<(), StatsError> {
    stat.post()
        .variance()
        .map(|_| ())
        .map_err(|e| e.in_arm(arm))
}

/// θ = pooled cov(x, y) / pooled var(x), or 0 when either pooled variance
/// is zero (gbstats' fallback).
pub fn pooled_theta(
    control: &RegressionAdjusted,
    treatment: &RegressionAdjusted,
) -> Result<f64, StatsError> {
    ensure_arm_has_variance(control, Arm::Control)?;
    ensure_arm_has_variance(treatment, Arm::Treatment)?;
    let mut pooled = *control;
    pooled.merge(treatment);
    let var_x = pooled.pre().variance()?;
    let var_y = pooled.post().variance()?;
    if var_x == 0.0 || var_y == 0.0 {
        return Ok(0.0);
    }
    Ok(pooled.covariance()? / var_x)
}

/// One arm's summary adjusted with slope `theta`.
pub fn adjusted_summary(stat: &RegressionAdjusted, theta: f64) -> Result<ArmSummary, StatsError> {
    let post: SampleMean = stat.post();
    let pre: SampleMean = stat.pre();
    let mean_y = post.mean()?;
    let variance =
        post.variance()? + theta * theta * pre.variance()? - 2.0 * theta * stat.covariance()?;
    Ok(ArmSummary {
        n: stat.n,
        mean: mean_y - theta * pre.mean()?,
        // Cancellation can leave a tiny negative; that is zero variance.
        variance: variance.max(0.0),
        unadjusted_mean: mean_y,
    })
}

/// Compute θ and adjust both arms.
pub fn cuped_adjust(
    control: &RegressionAdjusted,
    treatment: &RegressionAdjusted,
) -> Result<CupedAdjustment, StatsError> {
    let theta = pooled_theta(control, treatment)?;
    let control_summary = adjusted_summary(control, theta).map_err(|e| e.in_arm(Arm::Control))?;
    let treatment_summary =
        adjusted_summary(treatment, theta).map_err(|e| e.in_arm(Arm::Treatment))?;
    Ok(CupedAdjustment {
        theta,
        adjusted: theta != 0.0,
        control: control_summary,
        treatment: treatment_summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bayes::{bayesian_test, Prior};
    use crate::stats::frequentist::t_test;
    use crate::stats::moments::Summarize;
    use crate::stats::testutil::assert_rel;
    use crate::stats::EffectScale;

    struct CupedCase {
        name: &'static str,
        control: RegressionAdjusted,
        treatment: RegressionAdjusted,
        theta: f64,
        control_mean: f64,
        control_variance: f64,
        treatment_mean: f64,
        treatment_variance: f64,
        /// (estimate, p_value, ci_lower, ci_upper), alpha 0.05
        absolute: (f64, f64, f64, f64),
        relative: (f64, f64, f64, f64),
        bayes_relative_ctw: f64,
    }

    // tests/reference/stats_reference.py: gbstats compute_theta,
    // RegressionAdjustedStatistic mean/variance after TwoSidedTTest set θ,
    // TwoSidedTTest absolute/relative and EffectBayesianABTest (flat prior).
    #[rustfmt::skip]
    const CUPED_CASES: &[CupedCase] = &[
        CupedCase { name: "strong_covariate_unequal_n", control: RegressionAdjusted { n: 1500.0, sum_y: 65970.08643243986, sum_y2: 5656162.009068678, sum_x: 73323.34694323315, sum_x2: 5393207.025345107, sum_xy: 4785127.253516656 }, treatment: RegressionAdjusted { n: 1700.0, sum_y: 86127.14982251558, sum_y2: 7761235.11410616, sum_x: 87545.16692002008, sum_x2: 6809192.988222024, sum_xy: 6510471.653778013 }, theta: 0.8867992254219347, control_mean: 0.6313327718912802, control_variance: 940.5985646413048, treatment_mean: 4.99539035788694, treatment_variance: 898.5803278004919, absolute: (4.36405758599566, 5.0369719267306934e-05, 2.2562652362045044, 6.471849935786816), relative: (0.09922810068920183, 0.0001864328865519571, 0.04722367648869161, 0.15123252488971206), bayes_relative_ctw: 0.999908426755307 },
        CupedCase { name: "weak_covariate_small_n", control: RegressionAdjusted { n: 12.0, sum_y: 98.11955672610571, sum_y2: 12746.803573836829, sum_x: 402.3900801102649, sum_x2: 22715.87633626611, sum_xy: 5811.164611532984 }, treatment: RegressionAdjusted { n: 15.0, sum_y: 368.38160218410394, sum_y2: 21936.267040623283, sum_x: 739.4345684060661, sum_x2: 50026.35502884568, sum_xy: 18246.06585204848 }, theta: 0.17702078138778463, control_mean: 2.2406791935244463, control_variance: 1030.9995332422889, treatment_mean: 15.832421139981523, treatment_variance: 948.8615505216404, absolute: (13.591741946457077, 0.27715305269932755, -11.658828419650828, 38.842312312564985), relative: (1.6622670219839086, 0.643136162148326, -5.6585152749370105, 8.983049318904827), bayes_relative_ctw: 0.6806176818561835 },
        CupedCase { name: "negative_values", control: RegressionAdjusted { n: 400.0, sum_y: -40339.39344305109, sum_y2: 4641342.896932401, sum_x: -12163.17762497351, sum_x2: 874951.99177889, sum_xy: 1549948.23488442 }, treatment: RegressionAdjusted { n: 380.0, sum_y: -37334.84645863772, sum_y2: 4214093.237876541, sum_x: -11003.696973286715, sum_x2: 763033.2753587769, sum_xy: 1396147.8088644126 }, theta: 0.6727886391836828, control_mean: -80.39036430148936, control_variance: 919.2124151475391, treatment_mean: -78.76758985786985, treatment_variance: 852.7828610015274, absolute: (1.6227744436195053, 0.4466360578254609, -2.5608947266726734, 5.806443613911684), relative: (-0.0160912131305142, 0.44069562628763026, -0.057038528611644365, 0.024856102350615968), bayes_relative_ctw: 0.22023067728173717 },
    ];

    #[rustfmt::skip]
    const FLAT_PRE_CONTROL: RegressionAdjusted = RegressionAdjusted { n: 10.0, sum_y: 55.0, sum_y2: 385.0, sum_x: 30.0, sum_x2: 90.0, sum_xy: 165.0 };
    #[rustfmt::skip]
    const FLAT_PRE_TREATMENT: RegressionAdjusted = RegressionAdjusted { n: 12.0, sum_y: 90.0, sum_y2: 800.0, sum_x: 36.0, sum_x2: 108.0, sum_xy: 270.0 };

    #[test]
    fn theta_and_adjusted_moments_match_gbstats() {
        for case in CUPED_CASES {
            let adj = cuped_adjust(&case.control, &case.treatment).expect(case.name);
            assert_rel(adj.theta, case.theta, 1e-10, case.name);
            assert!(adj.adjusted);
            assert_rel(adj.control.mean, case.control_mean, 1e-9, case.name);
            assert_rel(adj.control.variance, case.control_variance, 1e-9, case.name);
            assert_rel(adj.treatment.mean, case.treatment_mean, 1e-9, case.name);
            assert_rel(
                adj.treatment.variance,
                case.treatment_variance,
                1e-9,
                case.name,
            );
        }
    }

    #[test]
    fn adjusted_tests_match_gbstats() {
        for case in CUPED_CASES {
            let adj = cuped_adjust(&case.control, &case.treatment).expect(case.name);
            for (scale, (estimate, p, lo, hi)) in [
                (EffectScale::Absolute, case.absolute),
                (EffectScale::Relative, case.relative),
            ] {
                let r = t_test(&adj.control, &adj.treatment, scale, 0.05).expect(case.name);
                assert_rel(r.estimate, estimate, 1e-9, case.name);
                assert_rel(r.p_value, p, 1e-6, case.name);
                assert_rel(r.ci.lower, lo, 1e-6, case.name);
                assert_rel(r.ci.upper, hi, 1e-6, case.name);
            }
            let b = bayesian_test(
                &adj.control,
                &adj.treatment,
                EffectScale::Relative,
                Prior::Flat,
                0.05,
            )
            .expect(case.name);
            assert_rel(b.chance_to_win, case.bayes_relative_ctw, 1e-6, case.name);
        }
    }

    #[test]
    fn adjustment_reduces_variance_when_the_covariate_predicts() {
        let case = &CUPED_CASES[0];
        let adj = cuped_adjust(&case.control, &case.treatment).expect("cuped");
        let raw = case.control.summarize().expect("raw");
        assert!(adj.control.variance < 0.6 * raw.variance);
        assert_eq!(adj.control.unadjusted_mean, raw.mean);
    }

    #[test]
    fn flat_covariate_falls_back_to_unadjusted() {
        // gbstats compute_theta returns 0 here and reverts to post statistics.
        let adj = cuped_adjust(&FLAT_PRE_CONTROL, &FLAT_PRE_TREATMENT).expect("cuped");
        assert_eq!(adj.theta, 0.0);
        assert!(!adj.adjusted);
        assert_eq!(adj.control, FLAT_PRE_CONTROL.summarize().expect("raw"));
        assert_eq!(adj.treatment, FLAT_PRE_TREATMENT.summarize().expect("raw"));
    }

    #[test]
    fn too_few_units_is_an_error_naming_the_arm() {
        let one = RegressionAdjusted::from_values(&[1.0], &[2.0]).expect("same length");
        let err = cuped_adjust(&CUPED_CASES[0].control, &one);
        assert_eq!(
            err,
            Err(StatsError::TooFewUnits { n: 1.0, needed: 2 }.in_arm(Arm::Treatment))
        );
    }
}
