//! Doubly robust (AIPW) scores and honest estimates built from them.
//!
//! For unit i with arm A_i, outcome Y_i and covariates X_i, the score of
//! arm a is
//!
//! ```text
//! Γ_i(a) = μ̂_a(X_i) + 1{A_i = a} / e_a · (Y_i − μ̂_a(X_i))
//! ```
//!
//! (Robins, Rotnitzky & Zhao 1994; Athey & Wager 2021, eq. 2.4), where
//! μ̂_a is an outcome model fit without unit i (cross-fitting, Chernozhukov
//! et al. 2018) and e_a the arm's randomization probability. With e_a
//! known, E[Γ_i(a) | X_i] = μ_a(X_i) whatever μ̂ is, so the mean of
//! Γ_i(π(X_i)) over units π was not learned on is unbiased for the value of
//! policy π, and a difference of two policies' per-unit scores gives the
//! gain with a normal interval from its standard error.

use crate::stats::Interval;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use statrs::distribution::{ContinuousCDF, Normal};

/// A mean over units with a normal interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub standard_error: f64,
    pub ci: Interval,
    /// Units averaged over.
    pub n: usize,
}

/// The mean of `values` with a two-sided `1 − alpha` normal interval
/// (standard error: sample standard deviation / √n). `None` with fewer
/// than two values.
pub fn mean_estimate(values: &[f64], alpha: f64) -> Option<Estimate> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = crate::stats::moments::CentralMoments::from_values(values);
    let se = (m.variance().ok()? / n as f64).sqrt();
    let z = -Normal::standard().inverse_cdf(alpha / 2.0);
    let estimate = m.mean().ok()?;
    (estimate.is_finite() && se.is_finite()).then(|| Estimate {
        estimate,
        standard_error: se,
        ci: Interval::around(estimate, z * se),
        n,
    })
}

/// Doubly robust scores, row-major `n × arms`: `mu[i * arms + a]` is
/// μ̂_a(X_i); `arm[i]` the unit's arm; `propensity[a]` = e_a > 0.
pub fn aipw_scores(y: &[f64], arm: &[usize], mu: &[f64], propensity: &[f64]) -> Vec<f64> {
    let k = propensity.len();
    let mut out = mu.to_vec();
    for (i, (&yi, &ai)) in y.iter().zip(arm).enumerate() {
        out[i * k + ai] += (yi - mu[i * k + ai]) / propensity[ai];
    }
    out
}

/// Fold of each unit: units of each arm shuffled with `seed` and dealt
/// round-robin into `k` folds, so every fold holds each arm in proportion.
pub fn stratified_folds(arm: &[usize], arms: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; arm.len()];
    let mut next = 0;
    for a in 0..arms {
        let mut members: Vec<usize> = (0..arm.len()).filter(|&i| arm[i] == a).collect();
        members.shuffle(&mut rng);
        for i in members {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aipw_adds_the_weighted_residual_to_the_observed_arm() {
        let mu = [0.1, 0.3, 0.2, 0.2];
        let g = aipw_scores(&[1.0, 0.0], &[1, 0], &mu, &[0.5, 0.5]);
        assert_eq!(g, vec![0.1, 0.3 + 0.7 / 0.5, 0.2 - 0.2 / 0.5, 0.2]);
    }

    #[test]
    fn folds_are_balanced_per_arm_and_seeded() {
        let arm: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let f = stratified_folds(&arm, 2, 5, 7);
        for k in 0..5 {
            let treated = (0..100).filter(|&i| f[i] == k && arm[i] == 1).count();
            assert_eq!(treated, 5);
        }
        assert_eq!(f, stratified_folds(&arm, 2, 5, 7));
        assert_ne!(f, stratified_folds(&arm, 2, 5, 8));
    }

    #[test]
    fn mean_interval_matches_the_normal_formula() {
        let e = mean_estimate(&[1.0, 2.0, 3.0, 4.0], 0.05).unwrap();
        let se = (1.666_666_666_666_666_7f64 / 4.0).sqrt();
        assert!((e.standard_error - se).abs() < 1e-12);
        assert!((e.ci.upper - (2.5 + 1.959_963_984_540_054 * se)).abs() < 1e-9);
        assert!(mean_estimate(&[1.0], 0.05).is_none());
    }
}
