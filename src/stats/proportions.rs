//! Difference of two proportions (e.g. cart recovery rate, treatment −
//! control).
//!
//! * Test: the unpooled-variance z test,
//!   `z = (p_t − p_c) / √(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c)`, two-sided normal
//!   p-value — statsmodels `test_proportions_2indep(method="wald")`.
//!   Unpooled because the interval and the test should agree on the
//!   variance under the alternative.
//! * Intervals: the Wald interval, and Newcombe's hybrid score interval
//!   (method 10 of Newcombe 1998), built from each arm's Wilson interval —
//!   statsmodels `confint_proportions_2indep(method="newcomb")`. Newcombe
//!   keeps its coverage near 0 % and 100 % rates and with small arms, where
//!   Wald does not; report it as the headline interval.

use serde::Serialize;

use super::dist::{normal_two_sided_p, normal_upper_quantile};
use super::error::{ensure_alpha, Arm, StatsError};
use super::moments::Proportion;
use super::Interval;

/// Result of comparing two proportions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProportionTest {
    pub control_rate: f64,
    pub treatment_rate: f64,
    /// treatment_rate − control_rate.
    pub difference: f64,
    /// Unpooled standard error of the difference.
    pub std_error: f64,
    /// z statistic.
    pub statistic: f64,
    pub p_value: f64,
    pub alpha: f64,
    /// difference ± z(1 − α/2) · std_error.
    pub wald_ci: Interval,
    /// Newcombe's hybrid Wilson score interval.
    pub newcombe_ci: Interval,
}

/// Unpooled z test and both intervals for treatment − control.
pub fn two_proportion_test(
    control: &Proportion,
    treatment: &Proportion,
    alpha: f64,
) -> Result<ProportionTest, StatsError> {
    ensure_alpha(alpha)?;
    let p_c = control.rate().map_err(|e| e.in_arm(Arm::Control))?;
    let p_t = treatment.rate().map_err(|e| e.in_arm(Arm::Treatment))?;
    let variance = p_t * (1.0 - p_t) / treatment.n + p_c * (1.0 - p_c) / control.n;
    if variance <= 0.0 {
        // Both arms at 0 % or 100 %: nothing varies, so no z statistic.
        return Err(StatsError::ZeroVariance);
    }
    let std_error = variance.sqrt();
    let difference = p_t - p_c;
    let statistic = difference / std_error;
    Ok(ProportionTest {
        control_rate: p_c,
        treatment_rate: p_t,
        difference,
        std_error,
        statistic,
        p_value: normal_two_sided_p(statistic),
        alpha,
        wald_ci: Interval::around(difference, normal_upper_quantile(alpha / 2.0) * std_error),
        newcombe_ci: newcombe_interval(control, treatment, alpha)?,
    })
}

/// Wilson score interval for one proportion, clipped to [0, 1] (as
/// statsmodels `proportion_confint(method="wilson")`).
pub fn wilson_interval(stat: &Proportion, alpha: f64) -> Result<Interval, StatsError> {
    ensure_alpha(alpha)?;
    let p = stat.rate()?;
    let n = stat.n;
    let z = normal_upper_quantile(alpha / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half_width = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Ok(Interval {
        lower: (center - half_width).clamp(0.0, 1.0),
        upper: (center + half_width).clamp(0.0, 1.0),
    })
}

/// Newcombe's hybrid score interval for treatment − control.
pub fn newcombe_interval(
    control: &Proportion,
    treatment: &Proportion,
    alpha: f64,
) -> Result<Interval, StatsError> {
    let w_c = wilson_interval(control, alpha).map_err(|e| e.in_arm(Arm::Control))?;
    let w_t = wilson_interval(treatment, alpha).map_err(|e| e.in_arm(Arm::Treatment))?;
    let p_c = control.rate().map_err(|e| e.in_arm(Arm::Control))?;
    let p_t = treatment.rate().map_err(|e| e.in_arm(Arm::Treatment))?;
    let difference = p_t - p_c;
    let below = ((p_t - w_t.lower).powi(2) + (w_c.upper - p_c).powi(2)).sqrt();
    let above = ((p_c - w_c.lower).powi(2) + (w_t.upper - p_t).powi(2)).sqrt();
    Ok(Interval {
        lower: difference - below,
        upper: difference + above,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::{assert_abs, assert_rel, field_names};

    struct ProportionCase {
        name: &'static str,
        alpha: f64,
        control: Proportion,
        treatment: Proportion,
        difference: f64,
        statistic: f64,
        p_value: f64,
        wald: (f64, f64),
        newcombe: (f64, f64),
    }

    // tests/reference/stats_reference.py: statsmodels
    // test_proportions_2indep(method="wald") and
    // confint_proportions_2indep(method="wald" | "newcomb"), treatment first.
    #[rustfmt::skip]
    const PROPORTION_CASES: &[ProportionCase] = &[
        ProportionCase { name: "conversion_unequal_n", alpha: 0.05, control: Proportion { n: 1000.0, successes: 48.0 }, treatment: Proportion { n: 1050.0, successes: 67.0 }, difference: 0.015809523809523815, statistic: 1.5608743730834553, p_value: 0.1185533949569758, wald: (-0.0040422322406336066, 0.03566127985968123), newcombe: (-0.004255420365449989, 0.03592731188773628) },
        ProportionCase { name: "conversion_unequal_n", alpha: 0.1, control: Proportion { n: 1000.0, successes: 48.0 }, treatment: Proportion { n: 1050.0, successes: 67.0 }, difference: 0.015809523809523815, statistic: 1.5608743730834553, p_value: 0.1185533949569758, wald: (-0.0008505950487928751, 0.032469642667840505), newcombe: (-0.0009735591436958006, 0.03263110500755337) },
        ProportionCase { name: "zero_control_successes", alpha: 0.05, control: Proportion { n: 40.0, successes: 0.0 }, treatment: Proportion { n: 38.0, successes: 3.0 }, difference: 0.07894736842105263, statistic: 1.804755622554715, p_value: 0.07111293153862527, wald: (-0.0067894464948886485, 0.16468418333699392), newcombe: (-0.02280637740559771, 0.20799371457771462) },
        ProportionCase { name: "zero_control_successes", alpha: 0.1, control: Proportion { n: 40.0, successes: 0.0 }, treatment: Proportion { n: 38.0, successes: 3.0 }, difference: 0.07894736842105263, statistic: 1.804755622554715, p_value: 0.07111293153862527, wald: (0.0069947651639843955, 0.15089997167812086), newcombe: (8.972645561119985e-05, 0.18187494349867891) },
        ProportionCase { name: "large", alpha: 0.05, control: Proportion { n: 20000.0, successes: 1500.0 }, treatment: Proportion { n: 20500.0, successes: 1620.0 }, difference: 0.004024390243902443, statistic: 1.5190195214859088, p_value: 0.12875758226773715, wald: (-0.0011682092100317792, 0.009216989697836665), newcombe: (-0.0011714796363339833, 0.009217694892297483) },
        ProportionCase { name: "large", alpha: 0.1, control: Proportion { n: 20000.0, successes: 1500.0 }, treatment: Proportion { n: 20500.0, successes: 1620.0 }, difference: 0.004024390243902443, statistic: 1.5190195214859088, p_value: 0.12875758226773715, wald: (-0.00033337658879488245, 0.008382157076599768), newcombe: (-0.000335455021515209, 0.008382428935779306) },
        ProportionCase { name: "small_n", alpha: 0.05, control: Proportion { n: 7.0, successes: 2.0 }, treatment: Proportion { n: 9.0, successes: 5.0 }, difference: 0.2698412698412699, statistic: 1.134334069363487, p_value: 0.25665444332671883, wald: (-0.19640512503975072, 0.7360876647222905), newcombe: (-0.18813273855164936, 0.5966063637517709) },
        ProportionCase { name: "small_n", alpha: 0.1, control: Proportion { n: 7.0, successes: 2.0 }, treatment: Proportion { n: 9.0, successes: 5.0 }, difference: 0.2698412698412699, statistic: 1.134334069363487, p_value: 0.25665444332671883, wald: (-0.12144503935745027, 0.66112757903999), newcombe: (-0.12632313359051162, 0.5629402670203361) },
    ];

    // Same script: statsmodels proportion_confint(method="wilson").
    // (successes, n, alpha, lower, upper)
    #[rustfmt::skip]
    const WILSON_CASES: &[(f64, f64, f64, f64, f64)] = &[
        (0.0, 40.0, 0.05, 0.0, 0.08762160119728668),
        (3.0, 38.0, 0.05, 0.02721459550698771, 0.20799371457771462),
        (48.0, 1000.0, 0.1, 0.03804882433592359, 0.06039038755281992),
        (7.0, 7.0, 0.05, 0.6456695649333125, 0.9999999999999999),
        (1500.0, 20000.0, 0.05, 0.07143070277307793, 0.078732527874611),
    ];

    #[test]
    fn z_test_and_intervals_match_statsmodels() {
        for case in PROPORTION_CASES {
            let r =
                two_proportion_test(&case.control, &case.treatment, case.alpha).expect(case.name);
            assert_rel(r.difference, case.difference, 1e-14, case.name);
            assert_rel(r.statistic, case.statistic, 1e-12, case.name);
            assert_rel(r.p_value, case.p_value, 1e-9, case.name);
            assert_rel(r.wald_ci.lower, case.wald.0, 1e-9, case.name);
            assert_rel(r.wald_ci.upper, case.wald.1, 1e-9, case.name);
            assert_rel(r.newcombe_ci.lower, case.newcombe.0, 1e-9, case.name);
            assert_rel(r.newcombe_ci.upper, case.newcombe.1, 1e-9, case.name);
        }
    }

    #[test]
    fn wilson_matches_statsmodels() {
        for &(successes, n, alpha, lower, upper) in WILSON_CASES {
            let w = wilson_interval(&Proportion { n, successes }, alpha).expect("wilson");
            assert_abs(w.lower, lower, 1e-15, "wilson lower");
            assert_rel(w.upper, upper, 1e-12, "wilson upper");
        }
    }

    #[test]
    fn degenerate_proportions_are_errors() {
        let none = Proportion {
            n: 50.0,
            successes: 0.0,
        };
        assert_eq!(
            two_proportion_test(&none, &none, 0.05),
            Err(StatsError::ZeroVariance)
        );
        let empty = Proportion::default();
        assert_eq!(
            two_proportion_test(&empty, &none, 0.05),
            Err(StatsError::NoUnits.in_arm(Arm::Control))
        );
        let impossible = Proportion {
            n: 5.0,
            successes: 6.0,
        };
        assert!(matches!(
            newcombe_interval(&none, &impossible, 0.05),
            Err(StatsError::InArm {
                arm: Arm::Treatment,
                ..
            })
        ));
    }

    #[test]
    fn newcombe_is_defined_where_wald_collapses() {
        // One arm at 0 %: Newcombe still reaches below zero.
        let r = two_proportion_test(
            &Proportion {
                n: 40.0,
                successes: 0.0,
            },
            &Proportion {
                n: 38.0,
                successes: 3.0,
            },
            0.05,
        )
        .expect("test");
        assert!(r.newcombe_ci.lower < 0.0 && r.newcombe_ci.upper > r.wald_ci.upper);
    }

    #[test]
    fn result_field_names_are_stable() {
        let r = two_proportion_test(
            &PROPORTION_CASES[0].control,
            &PROPORTION_CASES[0].treatment,
            0.05,
        )
        .expect("test");
        assert_eq!(
            field_names(&r),
            [
                "control_rate",
                "treatment_rate",
                "difference",
                "std_error",
                "statistic",
                "p_value",
                "alpha",
                "wald_ci",
                "newcombe_ci"
            ]
        );
    }
}
