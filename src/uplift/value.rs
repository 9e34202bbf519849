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

/// [`mean_estimate`] of held-out values whose policy was learned per fold
/// (`fold[i]` in `0..k`), as an estimate for the policy learned on all
/// units. Beside the unit noise (`sd / √n`), the policies learned on
/// different folds differ in true value; that spread, τ², is read from the
/// fold means beyond what unit noise explains (their variance less `k` ×
/// the squared unit standard error, floored at 0), and counted for the
/// mean of the `k` folds' policies and once more for the policy learned on
/// all units: SE² = sd² / n + τ² (1 + 1/k). With one fold, or values that
/// do not depend on the fold, this is [`mean_estimate`]. The naive
/// standard error of a cross-validated estimate undercovers the learned
/// model's own performance (Bates, Hastie & Tibshirani 2023,
/// "Cross-validation: what does it estimate and how well does it do it?",
/// JASA); this is a simple, conservative correction for the spread between
/// the folds' policies.
pub fn cross_validated_estimate(
    values: &[f64],
    fold: &[usize],
    k: usize,
    alpha: f64,
) -> Option<Estimate> {
    let base = mean_estimate(values, alpha)?;
    if k < 2 || fold.len() != values.len() {
        return Some(base);
    }
    let mut sums = vec![(0.0f64, 0usize); k];
    for (&v, &f) in values.iter().zip(fold) {
        sums[f].0 += v;
        sums[f].1 += 1;
    }
    let means: Vec<f64> = sums
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| s / *c as f64)
        .collect();
    if means.len() < 2 {
        return Some(base);
    }
    let kk = means.len() as f64;
    let between = crate::stats::moments::CentralMoments::from_values(&means)
        .variance()
        .ok()?;
    let tau2 = (between - kk * base.standard_error.powi(2)).max(0.0);
    let se = (base.standard_error.powi(2) + tau2 * (1.0 + 1.0 / kk)).sqrt();
    let z = -Normal::standard().inverse_cdf(alpha / 2.0);
    se.is_finite().then(|| Estimate {
        standard_error: se,
        ci: Interval::around(base.estimate, z * se),
        ..base
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
    fn cross_validated_interval_adds_the_spread_between_folds() {
        // Two folds of four values: fold means 1 and 3, unit sd² from the
        // pooled values; worked by hand.
        let v = [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0];
        let fold = [0, 0, 0, 0, 1, 1, 1, 1];
        let base = mean_estimate(&v, 0.05).unwrap();
        // mean 2, sample variance 12/7, se² = 12/56.
        assert!((base.standard_error.powi(2) - 12.0 / 56.0).abs() < 1e-12);
        let cv = cross_validated_estimate(&v, &fold, 2, 0.05).unwrap();
        // Fold means 1 and 3: variance 2; τ² = 2 − 2 × 12/56; SE² = se² + τ² × 1.5.
        let tau2 = 2.0 - 2.0 * 12.0 / 56.0;
        let want = (12.0 / 56.0 + tau2 * 1.5f64).sqrt();
        assert!(
            (cv.standard_error - want).abs() < 1e-12,
            "{}",
            cv.standard_error
        );
        assert_eq!(cv.estimate, base.estimate);
        // Folds that agree add nothing.
        let same = [0.0, 4.0, 1.0, 3.0, 0.0, 4.0, 1.0, 3.0];
        let cv = cross_validated_estimate(&same, &fold, 2, 0.05).unwrap();
        assert_eq!(cv, mean_estimate(&same, 0.05).unwrap());
    }

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
