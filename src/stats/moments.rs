//! Sufficient statistics: the few sums per arm from which every test here is
//! computed.
//!
//! Each type is a bag of sums, so combining two partial aggregates is adding
//! field by field (`merge`). That is associative and commutative, and exact
//! whenever the sums are exactly representable (integer counts, values on a
//! binary grid such as quarter-cents); for arbitrary reals it is exact up to
//! f64 rounding of the additions. This is what lets the per-unit reduction
//! run in chunks, per day, or as SQL in a warehouse.
//!
//! [`SampleMean`] keeps the textbook `(Σx² − (Σx)²/n) / (n − 1)` form of
//! gbstats, so the reference tests agree with it to the last digits;
//! [`CentralMoments`] (what lift uses) carries centred moments merged by
//! Chan's formula, so a constant arm has exactly zero variance. Counts are
//! f64 so that sums read back from SQL or Parquet need no conversion.

use serde::Serialize;

use super::error::{Arm, StatsError};

/// The mean-like view of one arm that every two-arm test consumes: units,
/// mean, per-unit variance, and the unadjusted mean that relative effects
/// divide by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArmSummary {
    /// Units (customers) in the arm.
    pub n: f64,
    /// The mean the effect is measured on (CUPED-adjusted where applicable).
    pub mean: f64,
    /// Per-unit variance of that mean's metric (variance of the mean is
    /// `variance / n`).
    pub variance: f64,
    /// The raw mean; relative lifts divide by the control's. Equal to `mean`
    /// except after CUPED.
    pub unadjusted_mean: f64,
}

impl ArmSummary {
    /// A summary whose mean is not adjusted.
    pub fn new(n: f64, mean: f64, variance: f64) -> Self {
        ArmSummary {
            n,
            mean,
            variance,
            unadjusted_mean: mean,
        }
    }

    /// Variance of the arm's mean, `variance / n`.
    pub fn variance_of_mean(&self) -> f64 {
        self.variance / self.n
    }

    /// Check the summary can enter a t-type test: finite, n ≥ 2 and a
    /// non-negative variance. Zero is allowed here (an arm without buyers);
    /// the pair is refused only when *both* arms have zero variance.
    pub fn ensure_testable(&self) -> Result<(), StatsError> {
        let finite = [self.n, self.mean, self.variance, self.unadjusted_mean]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(StatsError::NonFinite {
                what: "arm summary",
            });
        }
        if self.n <= 0.0 {
            return Err(StatsError::NoUnits);
        }
        if self.n < 2.0 {
            return Err(StatsError::TooFewUnits {
                n: self.n,
                needed: 2,
            });
        }
        if self.variance < 0.0 {
            return Err(StatsError::InvalidStatistic {
                reason: "a variance must not be negative",
            });
        }
        Ok(())
    }
}

/// A sufficient statistic that can be reduced to one arm's [`ArmSummary`].
pub trait Summarize {
    /// The arm's n, mean and per-unit variance.
    fn summarize(&self) -> Result<ArmSummary, StatsError>;
}

/// Summarize both arms, naming the arm in any error.
pub fn summarize_pair<S: Summarize>(
    control: &S,
    treatment: &S,
) -> Result<(ArmSummary, ArmSummary), StatsError> {
    let c = control.summarize().map_err(|e| e.in_arm(Arm::Control))?;
    let t = treatment
        .summarize()
        .map_err(|e| e.in_arm(Arm::Treatment))?;
    Ok((c, t))
}

fn ensure_counts(n: f64) -> Result<(), StatsError> {
    if !n.is_finite() || n < 0.0 {
        return Err(StatsError::InvalidStatistic {
            reason: "n must be a finite, non-negative count",
        });
    }
    if n == 0.0 {
        return Err(StatsError::NoUnits);
    }
    Ok(())
}

fn ensure_variance_possible(n: f64) -> Result<(), StatsError> {
    ensure_counts(n)?;
    if n < 2.0 {
        return Err(StatsError::TooFewUnits { n, needed: 2 });
    }
    Ok(())
}

/// Unbiased variance from sums; tiny negative values from cancellation are
/// clamped to 0 (and then rejected by the tests as zero variance).
fn variance_from_sums(n: f64, sum: f64, sum_sq: f64) -> f64 {
    ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0)
}

/// Unbiased covariance from sums.
fn covariance_from_sums(n: f64, sum_a: f64, sum_b: f64, sum_ab: f64) -> f64 {
    (sum_ab - sum_a * sum_b / n) / (n - 1.0)
}

fn ensure_same_length(what: &'static str, left: usize, right: usize) -> Result<(), StatsError> {
    if left == right {
        Ok(())
    } else {
        Err(StatsError::LengthMismatch { what, left, right })
    }
}

// ---------------------------------------------------------------- SampleMean

/// Per-unit values of a metric (e.g. revenue per customer, net of refunds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SampleMean {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl SampleMean {
    /// Accumulate values left to right.
    pub fn from_values(values: &[f64]) -> Self {
        let mut stat = SampleMean::default();
        for &x in values {
            stat.push(x);
        }
        stat
    }

    /// Add one unit's value.
    pub fn push(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
        self.sum_sq += x * x;
    }

    /// Add another partial aggregate of the same metric.
    pub fn merge(&mut self, other: &Self) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    pub fn mean(&self) -> Result<f64, StatsError> {
        ensure_counts(self.n)?;
        Ok(self.sum / self.n)
    }

    /// Unbiased (n − 1) variance of a unit's value.
    pub fn variance(&self) -> Result<f64, StatsError> {
        ensure_variance_possible(self.n)?;
        Ok(variance_from_sums(self.n, self.sum, self.sum_sq))
    }
}

impl Summarize for SampleMean {
    fn summarize(&self) -> Result<ArmSummary, StatsError> {
        Ok(ArmSummary::new(self.n, self.mean()?, self.variance()?))
    }
}

// ------------------------------------------------------------ CentralMoments

/// Centred moments of a per-unit metric: `n`, the mean, and the sums of
/// squared and cubed deviations from it, `m2 = Σ(y − ȳ)²`, `m3 = Σ(y − ȳ)³`.
///
/// Accumulated one value at a time by Welford's update extended to the third
/// moment, and merged by Chan, Golub & LeVeque's pairwise formula (Pébay
/// 2008, "Formulas for robust, one-pass parallel computation of covariances
/// and arbitrary-order statistical moments", Sandia SAND2008-6212, eqs. 1.1
/// and 2.1). Unlike `Σy² − (Σy)²/n`, an arm whose units all have the same
/// value has `m2 = m3 = 0` exactly, however the units were split and
/// merged, and no cancellation eats the digits of a large mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CentralMoments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
    pub m3: f64,
}

impl CentralMoments {
    /// Accumulate values left to right.
    pub fn from_values(values: &[f64]) -> Self {
        let mut stat = CentralMoments::default();
        for &x in values {
            stat.push(x);
        }
        stat
    }

    /// Add one unit's value (Welford / Pébay eq. 1.1).
    pub fn push(&mut self, x: f64) {
        let n1 = self.n;
        self.n += 1.0;
        let delta = x - self.mean;
        let delta_n = delta / self.n;
        let term = delta * delta_n * n1;
        self.mean += delta_n;
        self.m3 += term * delta_n * (self.n - 2.0) - 3.0 * delta_n * self.m2;
        self.m2 += term;
    }

    /// Add another partial aggregate of the same metric (Pébay eq. 2.1).
    pub fn merge(&mut self, other: &Self) {
        if other.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n, other.n);
        let n = na + nb;
        let delta = other.mean - self.mean;
        let delta_n = delta / n;
        self.m3 = self.m3
            + other.m3
            + delta * delta_n * delta_n * na * nb * (na - nb)
            + 3.0 * delta_n * (na * other.m2 - nb * self.m2);
        self.m2 = self.m2 + other.m2 + delta * delta_n * na * nb;
        self.mean += delta_n * nb;
        self.n = n;
    }

    /// The same units after `y → (y − shift) / scale` (scale > 0 keeps the
    /// sign of the third moment).
    pub fn affine(&self, shift: f64, scale: f64) -> Self {
        CentralMoments {
            n: self.n,
            mean: (self.mean - shift) / scale,
            m2: self.m2 / (scale * scale),
            m3: self.m3 / (scale * scale * scale),
        }
    }

    /// Centred moments from raw power sums Σy, Σy², Σy³, for tables written
    /// by systems that only add (SQL). Cancellation can leave a few ulps of
    /// `Σy²` in `m2` for a constant arm; it is clamped at 0.
    pub fn from_power_sums(n: f64, sum: f64, sum_sq: f64, sum_cube: f64) -> Self {
        if n <= 0.0 {
            return CentralMoments::default();
        }
        let mean = sum / n;
        let m2 = (sum_sq - sum * mean).max(0.0);
        let m3 = if m2 == 0.0 {
            0.0
        } else {
            sum_cube - 3.0 * mean * sum_sq + 2.0 * n * mean * mean * mean
        };
        CentralMoments { n, mean, m2, m3 }
    }

    pub fn mean(&self) -> Result<f64, StatsError> {
        ensure_counts(self.n)?;
        Ok(self.mean)
    }

    /// Unbiased (n − 1) variance of a unit's value; exactly 0 for a constant arm.
    pub fn variance(&self) -> Result<f64, StatsError> {
        ensure_variance_possible(self.n)?;
        Ok(self.m2.max(0.0) / (self.n - 1.0))
    }

    /// Sample skewness `g1 = (m3/n) / (m2/n)^{3/2}` (scipy `stats.skew`,
    /// bias=True); 0 for a constant arm.
    pub fn skewness(&self) -> Result<f64, StatsError> {
        ensure_counts(self.n)?;
        if self.m2 <= 0.0 {
            return Ok(0.0);
        }
        Ok((self.m3 / self.n) / (self.m2 / self.n).powf(1.5))
    }
}

impl Summarize for CentralMoments {
    fn summarize(&self) -> Result<ArmSummary, StatsError> {
        Ok(ArmSummary::new(self.n, self.mean()?, self.variance()?))
    }
}

// ---------------------------------------------------------------- Proportion

/// A binary outcome per unit (e.g. recovered the cart or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Proportion {
    pub n: f64,
    pub successes: f64,
}

impl Proportion {
    pub fn from_outcomes(outcomes: &[bool]) -> Self {
        let mut stat = Proportion::default();
        for &hit in outcomes {
            stat.push(hit);
        }
        stat
    }

    pub fn push(&mut self, success: bool) {
        self.n += 1.0;
        if success {
            self.successes += 1.0;
        }
    }

    pub fn merge(&mut self, other: &Self) {
        self.n += other.n;
        self.successes += other.successes;
    }

    /// successes / n, after checking 0 ≤ successes ≤ n.
    pub fn rate(&self) -> Result<f64, StatsError> {
        ensure_counts(self.n)?;
        if !(self.successes >= 0.0 && self.successes <= self.n) {
            return Err(StatsError::InvalidStatistic {
                reason: "successes must lie between 0 and n",
            });
        }
        Ok(self.successes / self.n)
    }

    /// Bernoulli variance p(1 − p), without the n/(n − 1) factor: the
    /// convention of gbstats' `ProportionStatistic` and of the unpooled z
    /// test.
    pub fn variance(&self) -> Result<f64, StatsError> {
        let p = self.rate()?;
        Ok(p * (1.0 - p))
    }
}

impl Summarize for Proportion {
    fn summarize(&self) -> Result<ArmSummary, StatsError> {
        Ok(ArmSummary::new(self.n, self.rate()?, self.variance()?))
    }
}

// ---------------------------------------------------------------------- Ratio

/// A ratio of two per-unit sums, with the unit as the randomization unit:
/// e.g. revenue per cart where customers are randomized, so carts of one
/// customer are not independent. The mean is Σnum / Σden and the per-unit
/// variance comes from the delta method (gbstats `RatioStatistic`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratio {
    pub n: f64,
    pub sum_num: f64,
    pub sum_num2: f64,
    pub sum_den: f64,
    pub sum_den2: f64,
    pub sum_num_den: f64,
}

impl Ratio {
    /// Accumulate per-unit (numerator, denominator) pairs.
    pub fn from_values(numerators: &[f64], denominators: &[f64]) -> Result<Self, StatsError> {
        ensure_same_length(
            "ratio numerators and denominators",
            numerators.len(),
            denominators.len(),
        )?;
        let mut stat = Ratio::default();
        for (&num, &den) in numerators.iter().zip(denominators) {
            stat.push(num, den);
        }
        Ok(stat)
    }

    pub fn push(&mut self, num: f64, den: f64) {
        self.n += 1.0;
        self.sum_num += num;
        self.sum_num2 += num * num;
        self.sum_den += den;
        self.sum_den2 += den * den;
        self.sum_num_den += num * den;
    }

    pub fn merge(&mut self, other: &Self) {
        self.n += other.n;
        self.sum_num += other.sum_num;
        self.sum_num2 += other.sum_num2;
        self.sum_den += other.sum_den;
        self.sum_den2 += other.sum_den2;
        self.sum_num_den += other.sum_num_den;
    }

    /// The numerator's per-unit statistic.
    pub fn numerator(&self) -> SampleMean {
        SampleMean {
            n: self.n,
            sum: self.sum_num,
            sum_sq: self.sum_num2,
        }
    }

    /// The denominator's per-unit statistic.
    pub fn denominator(&self) -> SampleMean {
        SampleMean {
            n: self.n,
            sum: self.sum_den,
            sum_sq: self.sum_den2,
        }
    }

    /// Σnum / Σden.
    pub fn mean(&self) -> Result<f64, StatsError> {
        ensure_counts(self.n)?;
        if self.sum_den == 0.0 {
            return Err(StatsError::ZeroDenominator);
        }
        Ok(self.sum_num / self.sum_den)
    }

    /// Unbiased covariance of a unit's numerator and denominator.
    pub fn covariance(&self) -> Result<f64, StatsError> {
        ensure_variance_possible(self.n)?;
        Ok(covariance_from_sums(
            self.n,
            self.sum_num,
            self.sum_den,
            self.sum_num_den,
        ))
    }

    /// Delta-method per-unit variance of the ratio:
    /// `var_m/μ_d² − 2 cov μ_m/μ_d³ + μ_m² var_d/μ_d⁴`.
    pub fn variance(&self) -> Result<f64, StatsError> {
        let mu_m = self.numerator().mean()?;
        let mu_d = self.denominator().mean()?;
        if mu_d == 0.0 {
            return Err(StatsError::ZeroDenominator);
        }
        let var_m = self.numerator().variance()?;
        let var_d = self.denominator().variance()?;
        let cov = self.covariance()?;
        Ok(var_m / mu_d.powi(2) - 2.0 * cov * mu_m / mu_d.powi(3)
            + mu_m.powi(2) * var_d / mu_d.powi(4))
    }
}

impl Summarize for Ratio {
    fn summarize(&self) -> Result<ArmSummary, StatsError> {
        Ok(ArmSummary::new(self.n, self.mean()?, self.variance()?))
    }
}

// --------------------------------------------------------- RegressionAdjusted

/// A metric `y` with one pre-period covariate `x` per unit, for CUPED (see
/// [`super::cuped`]). Summarized on its own it is the unadjusted `y`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RegressionAdjusted {
    pub n: f64,
    pub sum_y: f64,
    pub sum_y2: f64,
    pub sum_x: f64,
    pub sum_x2: f64,
    pub sum_xy: f64,
}

impl RegressionAdjusted {
    /// Accumulate per-unit (metric, covariate) pairs.
    pub fn from_values(y: &[f64], x: &[f64]) -> Result<Self, StatsError> {
        ensure_same_length("CUPED metric and covariate", y.len(), x.len())?;
        let mut stat = RegressionAdjusted::default();
        for (&yi, &xi) in y.iter().zip(x) {
            stat.push(yi, xi);
        }
        Ok(stat)
    }

    pub fn push(&mut self, y: f64, x: f64) {
        self.n += 1.0;
        self.sum_y += y;
        self.sum_y2 += y * y;
        self.sum_x += x;
        self.sum_x2 += x * x;
        self.sum_xy += x * y;
    }

    pub fn merge(&mut self, other: &Self) {
        self.n += other.n;
        self.sum_y += other.sum_y;
        self.sum_y2 += other.sum_y2;
        self.sum_x += other.sum_x;
        self.sum_x2 += other.sum_x2;
        self.sum_xy += other.sum_xy;
    }

    /// The metric (post-period) alone.
    pub fn post(&self) -> SampleMean {
        SampleMean {
            n: self.n,
            sum: self.sum_y,
            sum_sq: self.sum_y2,
        }
    }

    /// The covariate (pre-period) alone.
    pub fn pre(&self) -> SampleMean {
        SampleMean {
            n: self.n,
            sum: self.sum_x,
            sum_sq: self.sum_x2,
        }
    }

    /// Unbiased covariance of metric and covariate.
    pub fn covariance(&self) -> Result<f64, StatsError> {
        ensure_variance_possible(self.n)?;
        Ok(covariance_from_sums(
            self.n,
            self.sum_y,
            self.sum_x,
            self.sum_xy,
        ))
    }
}

impl Summarize for RegressionAdjusted {
    fn summarize(&self) -> Result<ArmSummary, StatsError> {
        self.post().summarize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::{assert_rel, Lcg};

    // The raw values behind the "small_n" case of
    // tests/reference/stats_reference.py.
    const SMALL_CONTROL: [f64; 5] = [3.0, 0.0, 12.5, 7.0, 0.0];
    const SMALL_TREATMENT: [f64; 4] = [15.0, 2.25, 0.0, 9.75];

    struct MomentCase {
        stat: SampleMean,
        mean: f64,
        variance: f64,
    }

    // Same script: gbstats SampleMeanStatistic mean / variance.
    #[rustfmt::skip]
    const MOMENT_CASES: &[MomentCase] = &[
        MomentCase { stat: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, mean: 45.267916666666665, variance: 6186.423782144843 },
        MomentCase { stat: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, mean: 48.468333333333334, variance: 5977.150034284656 },
        MomentCase { stat: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, mean: 4.5, variance: 28.25 },
        MomentCase { stat: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, mean: 6.75, variance: 47.625 },
        MomentCase { stat: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, mean: -5.068333333333333, variance: 810.3489938684504 },
        MomentCase { stat: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, mean: -2.9651785714285714, variance: 700.8554139464926 },
        MomentCase { stat: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, mean: 4.0, variance: 124.000496001984 },
        MomentCase { stat: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, mean: 4.056224899598393, variance: 128.12586737860642 },
        MomentCase { stat: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, mean: 40.0, variance: 900.0 },
        MomentCase { stat: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, mean: 43.5, variance: 1000.0 },
    ];

    struct RatioMomentCase {
        stat: Ratio,
        mean: f64,
        variance: f64,
    }

    // Same script: gbstats RatioStatistic mean / (delta-method) variance.
    #[rustfmt::skip]
    const RATIO_MOMENT_CASES: &[RatioMomentCase] = &[
        RatioMomentCase { stat: Ratio { n: 800.0, sum_num: 20937.88461408953, sum_num2: 2638736.107690129, sum_den: 1276.0, sum_den2: 2510.0, sum_num_den: 43021.58814305643 }, mean: 16.409000481261387, variance: 936.0490333709365 },
        RatioMomentCase { stat: Ratio { n: 900.0, sum_num: 29778.888382229696, sum_num2: 4211178.8439361015, sum_den: 1469.0, sum_den2: 2975.0, sum_num_den: 63768.00887916906 }, mean: 20.27153736026528, variance: 1189.2594556466913 },
        RatioMomentCase { stat: Ratio { n: 25.0, sum_num: 238.08009039600444, sum_num2: 12475.15303491843, sum_den: 33.0, sum_den2: 53.0, sum_num_den: 426.46498293326266 }, mean: 7.214548193818317, variance: 217.1402253881549 },
        RatioMomentCase { stat: Ratio { n: 30.0, sum_num: 727.203004516575, sum_num2: 67883.86659216031, sum_den: 44.0, sum_den2: 82.0, sum_num_den: 1534.2652341305704 }, mean: 16.52734101174034, variance: 634.2794758520661 },
    ];

    // tests/reference/intervals_reference.py: scipy.stats.skew (bias=True)
    // and numpy var(ddof=1).
    #[rustfmt::skip]
    const SKEW_CASES: &[(&[f64], f64, f64)] = &[
        (&[0.0, 0.0, 0.0, 34.0, 0.0, 58.5, 0.0, 120.0], 1.3870406774175008, 1904.8169642857142),
        (&[1.5, 2.25, 3.0, 10.0], 1.0710714648589166, 15.390625),
        (&[19.99, 19.99, 19.99, 19.99, 19.99, 20.01], 1.7888543819998317, 6.666666666668751e-05),
        (&[-3.0, 0.0, 0.0, 0.0, 12.5, 7.0], 0.8383778566920672, 33.775),
    ];

    #[test]
    fn central_moments_match_scipy() {
        for &(values, skew, var) in SKEW_CASES {
            let m = CentralMoments::from_values(values);
            assert_rel(m.skewness().expect("skew"), skew, 1e-9, "skewness");
            assert_rel(m.variance().expect("variance"), var, 1e-9, "variance");
            // The same, merged from two halves.
            let (a, b) = values.split_at(values.len() / 2);
            let mut merged = CentralMoments::from_values(a);
            merged.merge(&CentralMoments::from_values(b));
            assert_rel(
                merged.skewness().expect("skew"),
                skew,
                1e-9,
                "merged skewness",
            );
            assert_rel(
                merged.variance().expect("variance"),
                var,
                1e-9,
                "merged variance",
            );
        }
    }

    #[test]
    fn sample_mean_matches_gbstats() {
        for case in MOMENT_CASES {
            assert_rel(case.stat.mean().expect("mean"), case.mean, 1e-15, "mean");
            assert_rel(
                case.stat.variance().expect("variance"),
                case.variance,
                1e-12,
                "variance",
            );
        }
    }

    #[test]
    fn from_values_builds_the_same_sums_as_the_reference() {
        let c = SampleMean::from_values(&SMALL_CONTROL);
        assert_eq!(
            c,
            SampleMean {
                n: 5.0,
                sum: 22.5,
                sum_sq: 214.25
            }
        );
        let t = SampleMean::from_values(&SMALL_TREATMENT);
        assert_eq!(
            t,
            SampleMean {
                n: 4.0,
                sum: 27.0,
                sum_sq: 325.125
            }
        );
        assert_rel(
            c.variance().expect("variance"),
            28.25,
            1e-15,
            "small variance",
        );
        assert_rel(
            t.variance().expect("variance"),
            47.625,
            1e-15,
            "small variance",
        );
    }

    #[test]
    fn ratio_matches_gbstats_delta_method() {
        for case in RATIO_MOMENT_CASES {
            assert_rel(
                case.stat.mean().expect("mean"),
                case.mean,
                1e-14,
                "ratio mean",
            );
            assert_rel(
                case.stat.variance().expect("variance"),
                case.variance,
                1e-10,
                "ratio variance",
            );
        }
    }

    #[test]
    fn proportion_uses_bernoulli_variance() {
        let p = Proportion::from_outcomes(&[true, false, false, true, false]);
        assert_eq!(
            p,
            Proportion {
                n: 5.0,
                successes: 2.0
            }
        );
        let s = p.summarize().expect("summary");
        assert_rel(s.mean, 0.4, 1e-15, "rate");
        assert_rel(s.variance, 0.24, 1e-15, "p(1-p)");
    }

    #[test]
    fn degenerate_statistics_are_typed_errors() {
        assert_eq!(SampleMean::default().mean(), Err(StatsError::NoUnits));
        assert_eq!(
            SampleMean::from_values(&[3.0]).variance(),
            Err(StatsError::TooFewUnits { n: 1.0, needed: 2 })
        );
        let flat = CentralMoments::from_values(&[19.99, 19.99, 19.99])
            .summarize()
            .expect("summary");
        assert_eq!(flat.variance, 0.0);
        assert_eq!(flat.ensure_testable(), Ok(()));
        assert!(matches!(
            Proportion {
                n: 3.0,
                successes: 4.0
            }
            .rate(),
            Err(StatsError::InvalidStatistic { .. })
        ));
        assert_eq!(
            Ratio::from_values(&[1.0, 2.0], &[0.0, 0.0]).and_then(|r| r.mean()),
            Err(StatsError::ZeroDenominator)
        );
        assert!(matches!(
            RegressionAdjusted::from_values(&[1.0], &[1.0, 2.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        let err = summarize_pair(
            &SampleMean::from_values(&[1.0, 2.0]),
            &SampleMean::default(),
        );
        assert_eq!(err, Err(StatsError::NoUnits.in_arm(Arm::Treatment)));
    }

    /// Split a sequence at random cut points, aggregate each piece, merge the
    /// pieces in a random tree order, and compare with the whole.
    fn merged_in_random_order<S: Copy + Default>(
        rng: &mut Lcg,
        parts: Vec<S>,
        merge: impl Fn(&mut S, &S),
    ) -> S {
        let mut parts = parts;
        while parts.len() > 1 {
            let i = rng.below(parts.len() as u64 - 1) as usize;
            let right = parts.remove(i + 1);
            merge(&mut parts[i], &right);
        }
        parts.pop().unwrap_or_default()
    }

    fn random_cuts(rng: &mut Lcg, len: usize) -> Vec<std::ops::Range<usize>> {
        let pieces = 1 + rng.below(6) as usize;
        let mut cuts: Vec<usize> = (0..pieces - 1)
            .map(|_| rng.below(len as u64 + 1) as usize)
            .collect();
        cuts.push(0);
        cuts.push(len);
        cuts.sort_unstable();
        cuts.windows(2).map(|w| w[0]..w[1]).collect()
    }

    #[test]
    fn merging_split_partials_equals_the_whole_exactly_on_a_binary_grid() {
        let mut rng = Lcg(20240611);
        for _ in 0..200 {
            let len = 1 + rng.below(60) as usize;
            let y: Vec<f64> = (0..len).map(|_| rng.quarter()).collect();
            let x: Vec<f64> = (0..len).map(|_| rng.quarter()).collect();
            let hits: Vec<bool> = (0..len).map(|_| rng.below(3) == 0).collect();
            let cuts = random_cuts(&mut rng, len);

            let whole = SampleMean::from_values(&y);
            let parts = cuts
                .iter()
                .map(|r| SampleMean::from_values(&y[r.clone()]))
                .collect();
            assert_eq!(
                merged_in_random_order(&mut rng, parts, SampleMean::merge),
                whole
            );

            let whole = Proportion::from_outcomes(&hits);
            let parts = cuts
                .iter()
                .map(|r| Proportion::from_outcomes(&hits[r.clone()]))
                .collect();
            assert_eq!(
                merged_in_random_order(&mut rng, parts, Proportion::merge),
                whole
            );

            let whole = RegressionAdjusted::from_values(&y, &x).expect("same length");
            let parts = cuts
                .iter()
                .map(|r| {
                    RegressionAdjusted::from_values(&y[r.clone()], &x[r.clone()])
                        .unwrap_or_default()
                })
                .collect();
            assert_eq!(
                merged_in_random_order(&mut rng, parts, RegressionAdjusted::merge),
                whole
            );

            let whole = Ratio::from_values(&y, &x).expect("same length");
            let parts = cuts
                .iter()
                .map(|r| Ratio::from_values(&y[r.clone()], &x[r.clone()]).unwrap_or_default())
                .collect();
            assert_eq!(merged_in_random_order(&mut rng, parts, Ratio::merge), whole);
        }
    }

    #[test]
    fn merging_arbitrary_reals_matches_the_whole_to_rounding() {
        let mut rng = Lcg(7);
        for _ in 0..200 {
            let len = 2 + rng.below(80) as usize;
            let y: Vec<f64> = (0..len).map(|_| rng.real()).collect();
            let cuts = random_cuts(&mut rng, len);
            let whole = SampleMean::from_values(&y);
            let parts = cuts
                .iter()
                .map(|r| SampleMean::from_values(&y[r.clone()]))
                .collect();
            let merged = merged_in_random_order(&mut rng, parts, SampleMean::merge);
            assert_eq!(merged.n, whole.n);
            assert_rel(merged.sum, whole.sum, 1e-12, "sum");
            assert_rel(merged.sum_sq, whole.sum_sq, 1e-12, "sum of squares");
            assert_rel(
                merged.variance().expect("variance"),
                whole.variance().expect("variance"),
                1e-9,
                "variance",
            );
        }
    }
}
