//! Estimates with intervals for linear combinations of independent groups'
//! statistics: `Σ cₖ · θₖ`, each θₖ a per-customer mean-like statistic of
//! one group of customers ([`ArmSummary`]: n, per-customer variance).
//!
//! The standard error is `√Σ cₖ² vₖ / nₖ` and the interval uses Student's t
//! with Welch–Satterthwaite degrees of freedom, `(Σ sₖ)² / Σ sₖ² / (nₖ − 1)`
//! with `sₖ = cₖ² vₖ / nₖ`: for two groups this is exactly
//! `stats::welch_test` (checked below). It is computed here because a
//! policy needs more than two groups (a sum over segments) and groups
//! without variance (a holdout pays no discount and sends no messages),
//! which `stats::welch_test` rightly refuses for a two-arm test.

use crate::stats::{ArmSummary, Interval};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Degrees of freedom from which the t quantile is the normal one with a
/// first-order Cornish–Fisher correction (error below 1e-8).
const LARGE_DF: f64 = 1e4;

/// A point estimate with its interval, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_error: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Estimate {
    /// A quantity known exactly (e.g. a gain of 0 where nothing changes).
    pub fn exact(value: f64) -> Estimate {
        Estimate {
            estimate: value,
            std_error: Some(0.0),
            ci: Some(Interval {
                lower: value,
                upper: value,
            }),
            error: None,
        }
    }

    /// A point estimate without an interval, and why there is none.
    pub fn no_interval(estimate: f64, why: impl Into<String>) -> Estimate {
        Estimate {
            estimate,
            std_error: None,
            ci: None,
            error: Some(why.into()),
        }
    }

    pub fn lower(&self) -> Option<f64> {
        self.ci.map(|c| c.lower)
    }

    pub fn upper(&self) -> Option<f64> {
        self.ci.map(|c| c.upper)
    }
}

/// One group's contribution to a combination: coefficient × its statistic.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    pub coefficient: f64,
    pub summary: ArmSummary,
}

impl Term {
    pub fn new(coefficient: f64, summary: ArmSummary) -> Term {
        Term {
            coefficient,
            summary,
        }
    }
}

/// `estimate` with the (1 − alpha) interval from the terms' variances.
pub fn combine(estimate: f64, terms: &[Term], alpha: f64) -> Estimate {
    if !estimate.is_finite() {
        return Estimate::no_interval(0.0, "the estimate is not a finite number");
    }
    let mut total = 0.0;
    let mut df_denominator = 0.0;
    for t in terms {
        let s = &t.summary;
        if s.n < 2.0 {
            return Estimate::no_interval(
                estimate,
                format!(
                    "{} customer(s) in a group; at least 2 are needed for an interval",
                    s.n
                ),
            );
        }
        let part = t.coefficient * t.coefficient * s.variance / s.n;
        if !part.is_finite() {
            return Estimate::no_interval(estimate, "a variance is not a finite number");
        }
        total += part;
        df_denominator += part * part / (s.n - 1.0);
    }
    if total <= 0.0 {
        return Estimate::no_interval(estimate, "no variation between customers, so no interval");
    }
    let df = total * total / df_denominator;
    let half = t_quantile(1.0 - alpha / 2.0, df) * total.sqrt();
    Estimate {
        estimate,
        std_error: Some(total.sqrt()),
        ci: Some(Interval::around(estimate, half)),
        error: None,
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
fn t_quantile(p: f64, df: f64) -> f64 {
    let z = Normal::standard().inverse_cdf(p);
    if df >= LARGE_DF {
        return z + (z * z * z + z) / (4.0 * df);
    }
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::welch_test;

    #[test]
    fn two_terms_are_welch() {
        for (nc, nt) in [(30.0, 45.0), (1200.0, 800.0), (40_000.0, 90_000.0)] {
            let c = ArmSummary::new(nc, 1.5, 4.0);
            let t = ArmSummary::new(nt, 1.9, 9.0);
            let w = welch_test(&c, &t, 0.05).unwrap();
            let e = combine(
                t.mean - c.mean,
                &[Term::new(1.0, t), Term::new(-1.0, c)],
                0.05,
            );
            assert!((e.estimate - w.estimate).abs() < 1e-15);
            assert!((e.std_error.unwrap() - w.std_error).abs() < 1e-15);
            let (a, b) = (e.ci.unwrap(), w.ci);
            assert!(
                (a.lower - b.lower).abs() < 1e-7 * b.lower.abs().max(1.0),
                "{a:?} {b:?}"
            );
            assert!(
                (a.upper - b.upper).abs() < 1e-7 * b.upper.abs().max(1.0),
                "{a:?} {b:?}"
            );
        }
    }

    #[test]
    fn a_group_without_variance_adds_nothing() {
        let t = ArmSummary::new(500.0, 2.0, 3.0);
        let c = ArmSummary::new(50.0, 0.0, 0.0);
        let alone = combine(2.0, &[Term::new(1.0, t)], 0.05);
        let with = combine(2.0, &[Term::new(1.0, t), Term::new(-1.0, c)], 0.05);
        assert_eq!(alone, with);
        assert!(alone.ci.unwrap().contains(2.0));
    }

    #[test]
    fn no_interval_is_said_not_nan() {
        let one = ArmSummary::new(1.0, 2.0, 0.0);
        let e = combine(2.0, &[Term::new(1.0, one)], 0.05);
        assert!(e.ci.is_none() && e.error.is_some() && e.estimate == 2.0);
        let flat = ArmSummary::new(10.0, 2.0, 0.0);
        let e = combine(2.0, &[Term::new(1.0, flat)], 0.05);
        assert!(e.error.unwrap().contains("no variation"));
        let json = serde_json::to_string(&Estimate::no_interval(0.0, "x")).unwrap();
        assert!(!json.contains("NaN") && !json.contains("null"));
    }
}
