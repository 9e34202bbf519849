//! Sample-ratio mismatch: do the arms' unit counts fit the configured split?
//!
//! Pearson's chi-square goodness of fit with `k − 1` degrees of freedom,
//! expected counts `weight / Σweights · total` — scipy.stats.chisquare and
//! gbstats' `check_srm`. A mismatch means assignment or logging is broken
//! (e.g. holdout members dropped before the log), and every lift estimate
//! from the run is suspect; it is flagged below p = 0.001, the conventional
//! threshold that keeps false alarms rare across many daily checks.

use serde::Serialize;

use super::dist::chi_squared_sf;
use super::error::StatsError;

/// p-value below which a split is flagged as mismatched.
pub const SRM_P_THRESHOLD: f64 = 0.001;

/// Chi-square check of observed arm sizes against the configured weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmResult {
    /// Units observed per arm, in configuration order.
    pub observed: Vec<f64>,
    /// Units expected per arm under the configured weights.
    pub expected: Vec<f64>,
    pub chi_square: f64,
    pub df: f64,
    pub p_value: f64,
    /// True when `p_value < SRM_P_THRESHOLD`.
    pub flag: bool,
}

fn ensure_weights(weights: &[f64]) -> Result<f64, StatsError> {
    match weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
        Some(&bad) => Err(StatsError::InvalidParameter {
            name: "arm weight",
            value: bad,
            expected: "a positive finite weight for every arm",
        }),
        None => Ok(weights.iter().sum()),
    }
}

/// Test `observed` unit counts per arm against `weights` (any positive
/// scale: 0.9/0.1 and 90/10 are the same split).
pub fn srm_test(observed: &[u64], weights: &[f64]) -> Result<SrmResult, StatsError> {
    if observed.len() != weights.len() {
        return Err(StatsError::LengthMismatch {
            what: "observed arm counts and configured weights",
            left: observed.len(),
            right: weights.len(),
        });
    }
    if observed.len() < 2 {
        return Err(StatsError::TooFewEntries {
            what: "a sample-ratio check",
            needed: 2,
            got: observed.len(),
        });
    }
    let total_weight = ensure_weights(weights)?;
    let observed: Vec<f64> = observed.iter().map(|&o| o as f64).collect();
    let total: f64 = observed.iter().sum();
    if total == 0.0 {
        return Err(StatsError::NoUnits);
    }
    let expected: Vec<f64> = weights.iter().map(|w| w / total_weight * total).collect();
    let chi_square: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum();
    let df = (observed.len() - 1) as f64;
    let p_value = chi_squared_sf(chi_square, df)?;
    Ok(SrmResult {
        observed,
        expected,
        chi_square,
        df,
        p_value,
        flag: p_value < SRM_P_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::{assert_rel, field_names};

    // tests/reference/stats_reference.py: scipy.stats.chisquare(observed,
    // weights / sum(weights) * total), cross-checked with gbstats check_srm.
    // (observed, weights, chi2, p)
    #[rustfmt::skip]
    const SRM_CASES: &[(&[u64], &[f64], f64, f64)] = &[
        (&[5010, 4990], &[0.5, 0.5], 0.04, 0.841480581121794),
        (&[9000, 1100], &[0.9, 0.1], 8.910891089108912, 0.002834749080259389),
        (&[3300, 3350, 3400], &[1.0, 1.0, 1.0], 1.492537313432836, 0.4741324069602937),
        (&[1000, 1200], &[50.0, 50.0], 18.181818181818183, 2.007865612426481e-05),
        (&[180, 20], &[0.85, 0.15], 3.9215686274509807, 0.04767038065616147),
    ];

    #[test]
    fn chi_square_matches_scipy() {
        for &(observed, weights, chi2, p) in SRM_CASES {
            let r = srm_test(observed, weights).expect("valid split");
            assert_rel(r.chi_square, chi2, 1e-12, "chi-square");
            assert_rel(r.p_value, p, 1e-9, "p-value");
            assert_eq!(r.flag, p < 0.001);
        }
    }

    #[test]
    fn a_clear_mismatch_is_flagged() {
        let r = srm_test(&[1000, 1200], &[50.0, 50.0]).expect("valid split");
        assert!(r.flag);
        assert_eq!(r.expected, vec![1100.0, 1100.0]);
        let r = srm_test(&[5010, 4990], &[0.5, 0.5]).expect("valid split");
        assert!(!r.flag);
    }

    #[test]
    fn bad_configurations_are_errors() {
        assert!(matches!(
            srm_test(&[1, 2], &[1.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            srm_test(&[5], &[1.0]),
            Err(StatsError::TooFewEntries { .. })
        ));
        assert!(matches!(
            srm_test(&[5, 5], &[1.0, 0.0]),
            Err(StatsError::InvalidParameter {
                name: "arm weight",
                ..
            })
        ));
        assert_eq!(srm_test(&[0, 0], &[1.0, 1.0]), Err(StatsError::NoUnits));
    }

    #[test]
    fn result_field_names_are_stable() {
        let r = srm_test(&[10, 12], &[1.0, 1.0]).expect("valid split");
        assert_eq!(
            field_names(&r),
            [
                "observed",
                "expected",
                "chi_square",
                "df",
                "p_value",
                "flag"
            ]
        );
    }
}
