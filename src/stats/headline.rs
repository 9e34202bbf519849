//! The headline: the one interval and p-value per comparison that a report
//! shows, chosen per metric kind for the level it holds on small holdouts
//! and heavy-tailed revenue (figures in the README, "Calibration").
//!
//! * Means (revenue per customer): randomization inference from centred
//!   moments ([`super::randomization`]); the absolute interval inverts
//!   shifts, the relative one multipliers.
//! * Proportions (converted or not): Miettinen–Nurminen score test and
//!   intervals ([`super::score`]).
//! * Ratios of per-unit sums (conversions per entry over customers): Welch
//!   and the delta method; their units are not exchangeable values that a
//!   randomization of means applies to.
//!
//! A headline that cannot be supported carries `withheld` (the reason in
//! words) and no number. Welch, the delta method and the rest stay in the
//! lift JSON under their own names for comparison with other tools.

use serde::Serialize;

use super::dist::normal_upper_quantile;
use super::error::StatsError;
use super::moments::{ArmSummary, CentralMoments, Proportion};
use super::randomization::{scale_interval, shift_interval, InvertedInterval, Unbounded};
use super::score::{score_difference, score_ratio};
use super::Interval;

/// The interval a report shows for one comparison, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// Which method produced it (`randomization_shift`, `randomization_scale`,
    /// `score_difference`, `score_ratio`, `welch`, `delta_method`).
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Why no interval is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

impl Headline {
    fn shown(method: &'static str, estimate: f64, ci: Interval, p_value: f64) -> Self {
        let finite = [estimate, ci.lower, ci.upper, p_value]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Headline::withheld(method, "the interval is not a finite number".into());
        }
        Headline {
            method,
            estimate: Some(estimate),
            ci: Some(ci),
            p_value: Some(p_value.clamp(0.0, 1.0)),
            withheld: None,
        }
    }

    fn withheld(method: &'static str, why: String) -> Self {
        Headline {
            method,
            estimate: None,
            ci: None,
            p_value: None,
            withheld: Some(why),
        }
    }

    fn from_error(method: &'static str, e: StatsError) -> Self {
        Headline::withheld(method, e.to_string())
    }

    /// Whether an interval is shown.
    pub fn is_shown(&self) -> bool {
        self.withheld.is_none()
    }
}

fn inverted(
    method: &'static str,
    scale: &str,
    r: Result<Result<InvertedInterval, Unbounded>, StatsError>,
) -> Headline {
    match r {
        Ok(Ok(x)) => Headline::shown(method, x.estimate, x.ci, x.p_value),
        Ok(Err(side)) => Headline::withheld(
            method,
            format!(
                "too few units or buyers to bound the {scale} effect {}: no {} effect is \
                 rejected at this level",
                match side {
                    Unbounded::Lower => "from below",
                    Unbounded::Upper => "from above",
                },
                match side {
                    Unbounded::Lower => "negative",
                    Unbounded::Upper => "positive",
                },
            ),
        ),
        Err(e) => Headline::from_error(method, e),
    }
}

/// Absolute and relative headlines of a mean metric, by randomization
/// inference (shift and scale inversion) at level `alpha`.
pub fn mean_headlines(
    control: &CentralMoments,
    treatment: &CentralMoments,
    alpha: f64,
) -> (Headline, Headline) {
    let abs = inverted(
        "randomization_shift",
        "absolute",
        shift_interval(control, treatment, alpha),
    );
    let rel = inverted(
        "randomization_scale",
        "relative",
        scale_interval(control, treatment, alpha),
    );
    (abs, rel)
}

/// Absolute and relative headlines of a 0/1 metric: Miettinen–Nurminen
/// score intervals.
pub fn proportion_headlines(
    control: &Proportion,
    treatment: &Proportion,
    alpha: f64,
) -> (Headline, Headline) {
    let abs = match score_difference(control, treatment, alpha) {
        Ok(r) => Headline::shown("score_difference", r.estimate, r.ci, r.p_value),
        Err(e) => Headline::from_error("score_difference", e),
    };
    let rel = match score_ratio(control, treatment, alpha) {
        Ok(r) => Headline::shown("score_ratio", r.estimate, r.ci, r.p_value),
        Err(e) => Headline::from_error("score_ratio", e),
    };
    (abs, rel)
}

/// Headlines of a ratio metric: Welch and the delta method.
pub fn ratio_headlines(
    control: &ArmSummary,
    treatment: &ArmSummary,
    alpha: f64,
) -> (Headline, Headline) {
    let abs = match super::welch_test(control, treatment, alpha) {
        Ok(r) => Headline::shown("welch", r.estimate, r.ci, r.p_value),
        Err(e) => Headline::from_error("welch", e),
    };
    let rel = match super::delta_method_test(control, treatment, alpha) {
        Ok(r) => Headline::shown("delta_method", r.estimate, r.ci, r.p_value),
        Err(e) => Headline::from_error("delta_method", e),
    };
    (abs, rel)
}

/// The fixed-horizon level whose two-sided normal interval is as wide as the
/// asymptotic confidence sequence at `units` (Waudby-Smith et al. 2021,
/// eq. 9, tuned by ρ): running a headline method at this level at each
/// look gives its always-valid counterpart.
pub fn sequential_level(units: f64, rho: f64, alpha: f64) -> f64 {
    let v = units * rho * rho + 1.0;
    let c2 = 2.0 * v * (v.sqrt() / alpha).ln() / (units * rho * rho);
    2.0 * super::dist::normal_sf(c2.sqrt())
}

/// The anytime-valid p-value (1 / mixture e-value, eq. 155) of a statistic
/// whose fixed-horizon two-sided p-value is `p_fixed`, read as a normal
/// statistic: p < alpha exactly when the fixed p is below
/// [`sequential_level`].
pub fn anytime_p_value(p_fixed: f64, units: f64, rho: f64) -> f64 {
    if p_fixed >= 1.0 {
        return 1.0;
    }
    let z = normal_upper_quantile((p_fixed / 2.0).max(f64::MIN_POSITIVE));
    let v = units * rho * rho + 1.0;
    let log_e = rho * rho * z * z * units / (2.0 * v) - 0.5 * v.ln();
    (-log_e).exp().min(1.0)
}

/// A headline at the sequential level, with the anytime p-value in place
/// of the fixed one.
pub fn sequential_headline(at_level: &Headline, units: f64, rho: f64) -> Headline {
    let mut h = at_level.clone();
    if let Some(p) = h.p_value {
        h.p_value = Some(anytime_p_value(p, units, rho));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sequential::tuning_rho;
    use crate::stats::testutil::assert_rel;

    #[test]
    fn sequential_level_matches_the_confidence_sequence_width() {
        // The confidence sequence of a normal statistic with se 1 at `units`
        // has half-width c; the level's normal quantile must be c.
        let rho = tuning_rho(0.05, 10_000.0).unwrap();
        for units in [100.0, 1_000.0, 10_000.0, 1e6] {
            let level = sequential_level(units, rho, 0.05);
            assert!(level < 0.05);
            let c = normal_upper_quantile(level / 2.0);
            // At the boundary the anytime p-value equals alpha.
            let p_fixed = 2.0 * crate::stats::dist::normal_sf(c);
            assert_rel(anytime_p_value(p_fixed, units, rho), 0.05, 1e-9, "boundary");
        }
    }

    #[test]
    fn withheld_headlines_carry_no_number() {
        let zeros = CentralMoments::from_values(&[0.0; 20]);
        let (abs, rel) = mean_headlines(&zeros, &zeros, 0.05);
        assert!(!abs.is_shown() && abs.estimate.is_none());
        assert!(rel
            .withheld
            .as_deref()
            .unwrap()
            .contains("control mean is zero"));
    }
}
