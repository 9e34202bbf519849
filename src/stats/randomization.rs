//! Randomization inference from centred moments: the headline interval for
//! a difference (or ratio) of means on heavy-tailed, mostly-zero revenue.
//!
//! **Why not Welch.** With a 5–10 % holdout and revenue that is 99 % zeros,
//! an arm may hold a dozen buyers or none. Its sample mean and its standard
//! error then move together (few buyers: low mean *and* low variance), so
//! Welch's t is skewed, one tail over-rejects, and an arm without buyers has
//! a standard error of zero. Kohavi's rule of thumb asks for 355 × skewness²
//! units per arm before a t interval is trustworthy: ~240 000 for revenue
//! with skewness 26.
//!
//! **The method.** Under the null hypothesis that the arms' units are
//! exchangeable (an A/A comparison, or the treatment after removing the
//! hypothesized effect), every re-randomization of the pooled units into
//! arms of the observed sizes was equally likely: that is the randomization
//! (permutation) distribution of the difference in means D = ȳ_t − ȳ_c
//! (Fisher 1935; Pitman 1937). Its first three moments are exact functions
//! of the pooled centred moments: with N pooled units, variance σ² = m2/N
//! and third moment μ₃ = m3/N, the treatment mean of a simple random sample
//! of n_t without replacement has
//!
//! * `Var(ȳ_t) = σ²/n_t · (N − n_t)/(N − 1)`,
//! * `κ₃(ȳ_t) = μ₃/n_t² · (N − n_t)(N − 2n_t) / ((N − 1)(N − 2))`
//!
//! (Cochran 1977, *Sampling Techniques*, §2; checked here by enumerating
//! every subset), and D = (N/n_c)(ȳ_t − ȳ). The distribution is approximated
//! by the Pearson type III (shifted gamma) curve with those three moments,
//! the classical approximation to permutation distributions (Mielke & Berry
//! 2007, *Permutation Methods*, §2.2; Berry, Mielke & Johnston 2016). At a
//! 50/50 split the skewness is zero and this is the pooled-variance z test.
//!
//! **Intervals** are the hypotheses not rejected (test inversion, Lehmann &
//! Romano 2005, §3.5): for an additive effect δ the treatment's units are
//! shifted by −δ ([`shift_interval`]), for a multiplicative effect 1 + r they
//! are divided by 1 + r ([`scale_interval`]); each bound is the root of a
//! one-sided tail probability = α/2, found by bisection. Both need only each
//! arm's (n, mean, m2, m3), so they run on the mergeable statistics table.
//! The shift interval is exact (up to the Pearson approximation) when the
//! effect is additive and the scale interval when it is multiplicative;
//! under the other kind of effect they lean on the pooled variance being
//! close to each arm's, which holds less well the more unequal the split.
//!
//! A bound that no hypothesis reaches (the data cannot exclude effects that
//! large, e.g. two buyers in all) is reported as unbounded, and the interval
//! withheld with that reason, never as a number.

use serde::Serialize;

use super::dist::{normal_cdf, normal_sf};
use super::error::{ensure_alpha, StatsError};
use super::moments::CentralMoments;
use super::Interval;

/// The randomization distribution of D = ȳ_t − ȳ_c given the pooled units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomizationDistribution {
    /// The observed difference in means.
    pub observed: f64,
    /// Standard deviation of D over re-randomizations (its mean is 0).
    pub std_dev: f64,
    /// Skewness of D over re-randomizations.
    pub skewness: f64,
}

impl RandomizationDistribution {
    /// The observed difference standardized by the randomization sd.
    pub fn statistic(&self) -> f64 {
        self.observed / self.std_dev
    }

    /// P(D ≥ observed) under the Pearson type III approximation.
    pub fn upper_p(&self) -> f64 {
        pearson3_sf(self.statistic(), self.skewness)
    }

    /// P(D ≤ observed) under the Pearson type III approximation.
    pub fn lower_p(&self) -> f64 {
        pearson3_sf(-self.statistic(), -self.skewness)
    }

    /// Two-sided p-value: twice the smaller tail, at most 1.
    pub fn two_sided_p(&self) -> f64 {
        (2.0 * self.upper_p().min(self.lower_p())).min(1.0)
    }
}

/// The exact variance and skewness of D over all re-randomizations of the
/// two arms' pooled units (see the module docs).
///
/// Errors: an empty arm, fewer than 3 units in all, or pooled units that
/// all have the same value (then D is always 0 and nothing can be tested).
pub fn randomization_distribution(
    control: &CentralMoments,
    treatment: &CentralMoments,
) -> Result<RandomizationDistribution, StatsError> {
    let (nc, nt) = (control.n, treatment.n);
    if !(nc >= 1.0 && nt >= 1.0) {
        return Err(StatsError::NoUnits);
    }
    let mut pool = *control;
    pool.merge(treatment);
    let n = pool.n;
    if n < 3.0 {
        return Err(StatsError::TooFewUnits { n, needed: 3 });
    }
    if pool.m2 <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let sigma2 = pool.m2 / n;
    let mu3 = pool.m3 / n;
    let var_mean = sigma2 / nt * (n - nt) / (n - 1.0);
    let k3_mean = mu3 / (nt * nt) * (n - nt) * (n - 2.0 * nt) / ((n - 1.0) * (n - 2.0));
    let std_dev = (n / nc) * var_mean.sqrt();
    let skewness = k3_mean / var_mean.powf(1.5);
    let observed = treatment.mean - control.mean;
    if !(std_dev > 0.0 && std_dev.is_finite() && skewness.is_finite() && observed.is_finite()) {
        return Err(StatsError::NonFinite {
            what: "randomization distribution",
        });
    }
    Ok(RandomizationDistribution {
        observed,
        std_dev,
        skewness,
    })
}

/// Upper tail P(T ≥ t) of the standardized Pearson type III curve with
/// skewness `g`: T = sign(g)(G − k)/√k with G ~ Gamma(k = 4/g², 1); the
/// normal for g = 0. Wilson–Hilferty's cube root stands in for the gamma
/// beyond k = 10⁴ (|g| < 0.02), where it is exact to ~1e-7.
pub fn pearson3_sf(t: f64, g: f64) -> f64 {
    if g.abs() < 1e-9 {
        return normal_sf(t);
    }
    let k = 4.0 / (g * g);
    let x = if g > 0.0 {
        k + t * k.sqrt()
    } else {
        k - t * k.sqrt()
    };
    // P(G ≤ x) and P(G ≥ x) for G ~ Gamma(k, 1).
    let gamma_cdf = |x: f64| -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if !x.is_finite() {
            return 1.0;
        }
        if k > 1e4 {
            let z = ((x / k).cbrt() - (1.0 - 1.0 / (9.0 * k))) * (9.0 * k).sqrt();
            return normal_cdf(z);
        }
        statrs::function::gamma::gamma_lr(k, x)
    };
    let gamma_sf = |x: f64| -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        if !x.is_finite() {
            return 0.0;
        }
        if k > 1e4 {
            let z = ((x / k).cbrt() - (1.0 - 1.0 / (9.0 * k))) * (9.0 * k).sqrt();
            return normal_sf(z);
        }
        statrs::function::gamma::gamma_ur(k, x)
    };
    if g > 0.0 {
        gamma_sf(x)
    } else {
        gamma_cdf(x)
    }
}

/// A headline interval from test inversion, or why it has no finite bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InvertedInterval {
    pub estimate: f64,
    pub ci: Interval,
    /// Two-sided randomization p-value of "no effect" (δ = 0 or r = 0).
    pub p_value: f64,
}

/// Why an inverted interval has no finite bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unbounded {
    Lower,
    Upper,
}

/// Root of a monotone-ish `f` between `inside` (f > 0) and `outside`
/// (f ≤ 0), by bisection to the last representable digits.
fn bisect(mut inside: f64, mut outside: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (inside + outside);
        if mid == inside || mid == outside {
            break;
        }
        if f(mid) > 0.0 {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    0.5 * (inside + outside)
}

/// Walk from `start` in steps `step · 2^j` until `f` is no longer positive;
/// `None` when it stays positive (no finite bound).
fn bracket(start: f64, step: f64, f: &impl Fn(f64) -> f64) -> Option<(f64, f64)> {
    let mut inside = start;
    for j in 0..64 {
        let x = start + step * 2f64.powi(j);
        if !x.is_finite() {
            return None;
        }
        let v = f(x);
        if v.is_nan() {
            return None;
        }
        if v <= 0.0 {
            return Some((inside, x));
        }
        inside = x;
    }
    None
}

/// One-sided tails of the randomization test of "treatment mapped by `map`
/// is exchangeable with control".
fn tails(
    control: &CentralMoments,
    mapped: &CentralMoments,
) -> Result<RandomizationDistribution, StatsError> {
    randomization_distribution(control, mapped)
}

/// Interval for an additive effect δ = μ_t − μ_c: the δ for which the
/// randomization test of `treatment − δ` against `control` does not reject
/// at level alpha (each tail alpha/2).
///
/// Shapes: each arm as centred moments of the per-unit metric; the result is
/// in the metric's units. Errors: as [`randomization_distribution`] at
/// δ = 0; `Err(Unbounded)` inside `Ok` when the data cannot bound a side.
pub fn shift_interval(
    control: &CentralMoments,
    treatment: &CentralMoments,
    alpha: f64,
) -> Result<Result<InvertedInterval, Unbounded>, StatsError> {
    ensure_alpha(alpha)?;
    let at_zero = randomization_distribution(control, treatment)?;
    let estimate = at_zero.observed;
    let half = alpha / 2.0;
    let shifted = |delta: f64| treatment.affine(delta, 1.0);
    // Lower bound: δ below it leave D(δ) too large (upper tail < α/2).
    let upper_ok = |delta: f64| match tails(control, &shifted(delta)) {
        Ok(d) => d.upper_p() - half,
        Err(_) => f64::NAN,
    };
    let lower_ok = |delta: f64| match tails(control, &shifted(delta)) {
        Ok(d) => d.lower_p() - half,
        Err(_) => f64::NAN,
    };
    let sd = at_zero.std_dev;
    let Some((inside, outside)) = bracket(estimate, -sd, &upper_ok) else {
        return Ok(Err(Unbounded::Lower));
    };
    let lower = bisect(inside, outside, upper_ok);
    let Some((inside, outside)) = bracket(estimate, sd, &lower_ok) else {
        return Ok(Err(Unbounded::Upper));
    };
    let upper = bisect(inside, outside, lower_ok);
    Ok(Ok(InvertedInterval {
        estimate,
        ci: Interval { lower, upper },
        p_value: at_zero.two_sided_p(),
    }))
}

/// Interval for a multiplicative effect r = μ_t/μ_c − 1: the r for which the
/// randomization test of `treatment / (1 + r)` against `control` does not
/// reject at level alpha. Searched over log(1 + r), so the bounds stay
/// above −100 %.
///
/// Needs a positive mean in both arms ([`StatsError::ZeroControlMean`] or
/// `InvalidStatistic` otherwise): a multiplier of a zero or negative mean is
/// not an effect size.
pub fn scale_interval(
    control: &CentralMoments,
    treatment: &CentralMoments,
    alpha: f64,
) -> Result<Result<InvertedInterval, Unbounded>, StatsError> {
    ensure_alpha(alpha)?;
    if control.mean <= 0.0 {
        return Err(StatsError::ZeroControlMean);
    }
    if treatment.mean <= 0.0 {
        return Err(StatsError::InvalidStatistic {
            reason: "the treatment mean is not positive, so no multiplicative effect fits it",
        });
    }
    let at_zero = randomization_distribution(control, treatment)?;
    let log_estimate = (treatment.mean / control.mean).ln();
    let half = alpha / 2.0;
    let scaled = |s: f64| treatment.affine(0.0, s.exp());
    let upper_ok = |s: f64| match tails(control, &scaled(s)) {
        Ok(d) => d.upper_p() - half,
        Err(_) => f64::NAN,
    };
    let lower_ok = |s: f64| match tails(control, &scaled(s)) {
        Ok(d) => d.lower_p() - half,
        Err(_) => f64::NAN,
    };
    // Steps in log(1 + r); beyond ±700 exp() leaves f64.
    let Some((inside, outside)) = bracket(log_estimate, -0.05, &upper_ok) else {
        return Ok(Err(Unbounded::Lower));
    };
    if outside < -700.0 {
        return Ok(Err(Unbounded::Lower));
    }
    let lower = bisect(inside, outside, upper_ok);
    let Some((inside, outside)) = bracket(log_estimate, 0.05, &lower_ok) else {
        return Ok(Err(Unbounded::Upper));
    };
    if outside > 700.0 {
        return Ok(Err(Unbounded::Upper));
    }
    let upper = bisect(inside, outside, lower_ok);
    Ok(Ok(InvertedInterval {
        estimate: log_estimate.exp_m1(),
        ci: Interval {
            lower: lower.exp_m1(),
            upper: upper.exp_m1(),
        },
        p_value: at_zero.two_sided_p(),
    }))
}

/// Kohavi's rule of thumb for the units per arm a t interval needs on a
/// metric with this skewness: 355 · skewness² (Kohavi, Deng, Longbotham &
/// Xu 2014, "Seven rules of thumb for web site experimenters", rule 7).
pub fn kohavi_minimum_n(skewness: f64) -> f64 {
    355.0 * skewness * skewness
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::assert_rel;

    /// Every split of a small pool into arms, enumerated: the exact
    /// randomization distribution, to check the closed-form moments.
    fn enumerate(pool: &[f64], nt: usize) -> Vec<f64> {
        let n = pool.len();
        let mut out = Vec::new();
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != nt {
                continue;
            }
            let (mut st, mut sc) = (0.0, 0.0);
            for (i, &y) in pool.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    st += y;
                } else {
                    sc += y;
                }
            }
            out.push(st / nt as f64 - sc / (n - nt) as f64);
        }
        out
    }

    #[test]
    fn moments_match_the_enumerated_randomization_distribution() {
        let pool = [0.0, 0.0, 0.0, 0.0, 1.5, 0.0, 7.0, 0.0, 30.0, 2.0, 0.0, 0.25];
        for nt in [1usize, 2, 3, 5, 6, 8] {
            let t = CentralMoments::from_values(&pool[..nt]);
            let c = CentralMoments::from_values(&pool[nt..]);
            let d = randomization_distribution(&c, &t).expect("distribution");
            let all = enumerate(&pool, nt);
            let k = all.len() as f64;
            let mean = all.iter().sum::<f64>() / k;
            let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / k;
            let k3 = all.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / k;
            assert!(mean.abs() < 1e-12, "mean {mean}");
            assert_rel(d.std_dev, var.sqrt(), 1e-12, "sd");
            if k3.abs() > 1e-12 {
                assert_rel(d.skewness, k3 / var.powf(1.5), 1e-10, "skewness");
            } else {
                assert!(d.skewness.abs() < 1e-10);
            }
        }
    }

    // tests/reference/intervals_reference.py: scipy.stats.pearson3(g).sf(t).
    #[rustfmt::skip]
    const PEARSON3_CASES: &[(f64, f64, f64)] = &[
        (1.96, 0.3, 0.0325733152779212),
        (-1.96, 0.3, 0.9839174045352276),
        (2.5, 1.8, 0.028935632148410998),
        (-1.2, 1.8, 1.0),
        (0.0, -0.7, 0.5465661415535331),
        (2.2, -0.7, 0.0005714976027859237),
        (3.0, 0.05, 0.0016602190799716583),
        (-3.0, 4.0, 1.0),
        (1.0, 0.01, 0.15865424929160393),
    ];

    /// (control values, treatment values, two-sided p, one-sided p, resamples)
    type PermutationCase = (&'static [f64], &'static [f64], f64, f64, f64);

    // Same script: scipy.stats.permutation_test of mean(t) − mean(c), exact
    // (complete enumeration) for the first case, 400 000 resamples otherwise.
    #[rustfmt::skip]
    const PERMUTATION_CASES: &[PermutationCase] = &[
        (&[0.0, 0.0, 0.0, 5.44, 177.54, 0.0, 0.0, 50.27, 0.0, 0.0, 45.53, 0.0, 12.81, 0.0], &[61.5, 0.0, 0.0, 0.0, 0.0, 64.97], 0.7965944272445821, 0.39829721362229104, f64::INFINITY),
        (&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 38.51, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 55.37, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 11.76, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 129.42, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 48.74, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 14.79, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 8.61, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 73.15, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 24.63, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 44.53, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 33.77, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 21.07, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 19.9, 0.0, 0.0, 0.0, 0.0], &[61.5, 0.0, 0.0, 0.0, 0.0, 37.42, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 24.27, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.44274389314026713, 0.22137194657013357, 400000.0),
        (&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 55.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 47.39, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 76.23, 0.0, 0.0, 67.88, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 39.87, 0.0, 0.0, 0.0, 27.94, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 37.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 13.46, 0.0, 0.0, 0.0, 0.0, 16.18, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 50.96, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 71.34, 0.0, 0.0, 0.0, 53.85, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 15.36, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 21.37, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 123.42, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 11.84, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 42.92, 108.39, 0.0, 0.0, 11.68, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 15.84, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 73.79, 0.0, 0.0, 0.0, 0.0], &[61.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 29.07, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.9371176572058569, 0.46855882860292847, 400000.0),
        (&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 11.76, 0.0, 83.69, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 76.44, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 8.08, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.89, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 157.08, 0.0, 0.0, 0.0, 0.0], &[61.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.42, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 25.83, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 169.52, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 16.54, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 80.95, 22.96, 0.0, 5.48, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 19.03, 0.0, 0.0, 68.81, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 103.71, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.4389239026902433, 0.21946195134512164, 400000.0),
    ];

    #[test]
    fn pearson3_matches_scipy() {
        for &(t, g, sf) in PEARSON3_CASES {
            // Wilson–Hilferty stands in below |g| = 0.02.
            let tol = if g.abs() < 0.02 { 1e-6 } else { 1e-9 };
            assert_rel(pearson3_sf(t, g), sf, tol, "pearson3 sf");
        }
    }

    #[test]
    fn p_values_approximate_the_permutation_test() {
        for &(c, t, two_sided, greater, resamples) in PERMUTATION_CASES {
            // Twenty units with four buyers: the exact distribution has a
            // handful of atoms, which three moments cannot follow closely.
            let tol = if resamples.is_finite() { 0.03 } else { 0.07 };
            let d = randomization_distribution(
                &CentralMoments::from_values(c),
                &CentralMoments::from_values(t),
            )
            .expect("distribution");
            println!(
                "n {} + {}: one-sided {} vs {greater}, two-sided {} vs {two_sided}",
                c.len(),
                t.len(),
                d.upper_p(),
                d.two_sided_p()
            );
            // A three-moment approximation of a discrete distribution: within
            // 0.03 of the permutation p-value (Monte Carlo error of the
            // reference: about 0.001).
            assert!(
                (d.upper_p() - greater).abs() < tol,
                "one-sided {} vs {greater}",
                d.upper_p()
            );
            assert!(
                (d.two_sided_p() - two_sided).abs() < 2.0 * tol,
                "two-sided {} vs {two_sided}",
                d.two_sided_p()
            );
        }
    }

    #[test]
    fn pearson3_reduces_to_the_normal_and_the_gamma() {
        assert_rel(pearson3_sf(1.959963984540054, 0.0), 0.025, 1e-9, "normal");
        // g = 2: T = G − 1 with G ~ Exp(1): P(T ≥ t) = exp(−(t + 1)).
        for t in [-0.5, 0.0, 1.0, 3.0] {
            assert_rel(pearson3_sf(t, 2.0), (-(t + 1.0f64)).exp(), 1e-12, "exp");
            let below = 1.0 - (-(t + 1.0f64)).exp();
            assert_rel(pearson3_sf(-t, -2.0), below, 1e-12, "mirror");
        }
        assert_eq!(pearson3_sf(-1.5, 2.0), 1.0);
        // The Wilson–Hilferty branch joins the exact gamma smoothly.
        let (a, b) = (pearson3_sf(2.0, 0.0200001), pearson3_sf(2.0, 0.0199999));
        assert!((a - b).abs() < 1e-6, "{a} {b}");
    }

    #[test]
    fn constant_arms_cannot_be_tested_but_one_constant_arm_can() {
        let zeros = CentralMoments::from_values(&[0.0; 50]);
        assert_eq!(
            randomization_distribution(&zeros, &zeros),
            Err(StatsError::ZeroVariance)
        );
        let mut buyers = vec![0.0; 45];
        buyers.extend([34.0, 58.5, 120.0, 22.9, 75.0]);
        let t = CentralMoments::from_values(&buyers);
        let r = shift_interval(&zeros, &t, 0.05).expect("computed");
        let r = r.expect("bounded");
        assert!(r.ci.lower < r.estimate && r.estimate < r.ci.upper);
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
    }

    #[test]
    fn intervals_are_consistent_with_the_p_value() {
        let mut rng = crate::stats::testutil::Lcg(11);
        for _ in 0..40 {
            let draw = |rng: &mut crate::stats::testutil::Lcg, n: usize| {
                let v: Vec<f64> = (0..n)
                    .map(|_| {
                        if rng.below(20) == 0 {
                            10.0 + rng.below(300) as f64
                        } else {
                            0.0
                        }
                    })
                    .collect();
                CentralMoments::from_values(&v)
            };
            let c = draw(&mut rng, 400);
            let t = draw(&mut rng, 60);
            let Ok(Ok(abs)) = shift_interval(&c, &t, 0.05) else {
                continue;
            };
            assert_eq!(abs.ci.contains(0.0), abs.p_value >= 0.05, "{abs:?}");
            if let Ok(Ok(rel)) = scale_interval(&c, &t, 0.05) {
                assert_eq!(rel.p_value, abs.p_value);
                let tol = 1e-9;
                let excludes = rel.ci.lower > tol || rel.ci.upper < -tol;
                assert_eq!(excludes, rel.p_value < 0.05, "{rel:?}");
            }
        }
    }

    #[test]
    fn kohavi_rule() {
        assert_rel(kohavi_minimum_n(26.0), 239_980.0, 1e-12, "355 × 26²");
    }
}
