//! Bayesian read-out of a lift: a Gaussian posterior on the effect, as
//! gbstats' `EffectBayesianABTest` with a `GaussianPrior`.
//!
//! The likelihood is the normal approximation of the effect (absolute:
//! Welch's mean and variance; relative: the delta method). The prior is flat
//! or N(mean, variance) **on the relative lift** (gbstats `prior_type =
//! "relative"`); for an absolute effect it is rescaled by the control's
//! unadjusted mean, `N(mean·|μ_c|, variance·μ_c²)`. The posterior is the
//! usual precision-weighted normal.
//!
//! Read-outs: chance to win P(effect > 0); risk, the expected loss of each
//! decision, `risk_control = E[max(effect, 0)]` (what shipping nothing gives
//! up) and `risk_treatment = E[max(−effect, 0)]`; and the central
//! (1 − alpha) credible interval. Risk uses the closed form
//! `E[max(X,0)] = μΦ(μ/σ) + σφ(μ/σ)` instead of gbstats' truncated-normal
//! moments; they agree to rounding.

use serde::Serialize;

use super::dist::{normal_cdf, normal_pdf, normal_sf, normal_upper_quantile};
use super::error::{ensure_alpha, ensure_finite, StatsError};
use super::frequentist::ensure_pair_testable;
use super::moments::ArmSummary;
use super::relative::{delta_method_variance, relative_lift};
use super::{EffectScale, Interval};

/// Prior on the relative lift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prior {
    /// Improper flat prior: the posterior is the likelihood.
    Flat,
    /// N(mean, variance) on treatment / control − 1; e.g. `mean: 0.0,
    /// variance: 0.09` says lifts beyond ±60 % are implausible.
    Normal { mean: f64, variance: f64 },
}

/// Posterior summary of the effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BayesianResult {
    pub scale: EffectScale,
    pub prior: Prior,
    /// Posterior mean of the effect.
    pub expected: f64,
    /// Posterior standard deviation.
    pub std_dev: f64,
    /// P(effect > 0).
    pub chance_to_win: f64,
    /// Expected loss of keeping control: E[max(effect, 0)].
    pub risk_control: f64,
    /// Expected loss of shipping treatment: E[max(−effect, 0)].
    pub risk_treatment: f64,
    pub alpha: f64,
    /// Central (1 − alpha) credible interval.
    pub ci: Interval,
}

/// Gaussian posterior of the effect on `scale` under `prior`.
pub fn bayesian_test(
    control: &ArmSummary,
    treatment: &ArmSummary,
    scale: EffectScale,
    prior: Prior,
    alpha: f64,
) -> Result<BayesianResult, StatsError> {
    ensure_alpha(alpha)?;
    ensure_pair_testable(control, treatment)?;
    let (data_mean, data_variance) = likelihood(control, treatment, scale)?;
    let (expected, variance) = posterior(
        data_mean,
        data_variance,
        prior_on_scale(prior, control, scale)?,
    );
    let std_dev = variance.sqrt();
    let (risk_control, risk_treatment) = risks(expected, std_dev);
    Ok(BayesianResult {
        scale,
        prior,
        expected,
        std_dev,
        chance_to_win: normal_sf(-expected / std_dev),
        risk_control,
        risk_treatment,
        alpha,
        ci: Interval::around(expected, normal_upper_quantile(alpha / 2.0) * std_dev),
    })
}

/// Mean and variance of the effect's normal likelihood.
fn likelihood(
    control: &ArmSummary,
    treatment: &ArmSummary,
    scale: EffectScale,
) -> Result<(f64, f64), StatsError> {
    let (mean, variance) = match scale {
        EffectScale::Absolute => (
            treatment.mean - control.mean,
            treatment.variance_of_mean() + control.variance_of_mean(),
        ),
        EffectScale::Relative => (
            relative_lift(control, treatment)?,
            delta_method_variance(control, treatment)?,
        ),
    };
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(StatsError::ZeroStandardError);
    }
    Ok((ensure_finite(mean, "effect estimate")?, variance))
}

/// The relative-lift prior expressed on `scale` as (mean, variance), or
/// `None` when flat.
fn prior_on_scale(
    prior: Prior,
    control: &ArmSummary,
    scale: EffectScale,
) -> Result<Option<(f64, f64)>, StatsError> {
    let Prior::Normal { mean, variance } = prior else {
        return Ok(None);
    };
    ensure_finite(mean, "prior mean")?;
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(StatsError::InvalidParameter {
            name: "prior variance",
            value: variance,
            expected: "a positive finite variance",
        });
    }
    match scale {
        EffectScale::Relative => Ok(Some((mean, variance))),
        EffectScale::Absolute => {
            let mu_c = control.unadjusted_mean;
            if mu_c == 0.0 {
                // A relative prior says nothing about an absolute effect on
                // a zero baseline.
                return Err(StatsError::ZeroControlMean);
            }
            Ok(Some((mean * mu_c.abs(), variance * mu_c * mu_c)))
        }
    }
}

/// Precision-weighted combination of likelihood and (optional) prior.
fn posterior(data_mean: f64, data_variance: f64, prior: Option<(f64, f64)>) -> (f64, f64) {
    match prior {
        None => (data_mean, data_variance),
        Some((prior_mean, prior_variance)) => {
            let precision = 1.0 / data_variance + 1.0 / prior_variance;
            let mean = (data_mean / data_variance + prior_mean / prior_variance) / precision;
            (mean, 1.0 / precision)
        }
    }
}

/// (E[max(X, 0)], E[max(−X, 0)]) for X ~ N(mu, sigma²).
fn risks(mu: f64, sigma: f64) -> (f64, f64) {
    let z = mu / sigma;
    let density = sigma * normal_pdf(z);
    let gain = mu * normal_cdf(z) + density;
    let loss = density - mu * normal_cdf(-z);
    (gain, loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::moments::{SampleMean, Summarize};
    use crate::stats::testutil::{assert_abs, assert_rel, field_names};

    struct BayesCase {
        name: &'static str,
        scale: EffectScale,
        prior: Prior,
        alpha: f64,
        control: SampleMean,
        treatment: SampleMean,
        expected: f64,
        std_dev: f64,
        chance_to_win: f64,
        risk_control: f64,
        risk_treatment: f64,
        ci_lower: f64,
        ci_upper: f64,
    }

    // tests/reference/stats_reference.py: gbstats EffectBayesianABTest with
    // EffectBayesianConfig(prior_effect=GaussianPrior(...), prior_type="relative").
    #[rustfmt::skip]
    const BAYES_CASES: &[BayesCase] = &[
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 0.07069944681203581, std_dev: 0.0710263317850119, chance_to_win: 0.8402285599371839, risk_control: 0.07666908337983912, risk_treatment: 0.005969636567803298, ci_lower: -0.06850960544058003, ci_upper: 0.20990849906465164 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 0.07069944681203581, std_dev: 0.0710263317850119, chance_to_win: 0.8402285599371839, risk_control: 0.07666908337983912, risk_treatment: 0.005969636567803298, ci_lower: -0.04612847263359969, ci_upper: 0.18752736625767127 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 0.06694689496772832, std_dev: 0.06911568194091246, chance_to_win: 0.8336328175216294, risk_control: 0.07305770969897005, risk_treatment: 0.006110814731241718, ci_lower: -0.06851735240338555, ci_upper: 0.20241114233884216 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 0.06694689496772832, std_dev: 0.06911568194091246, chance_to_win: 0.8336328175216294, risk_control: 0.07305770969897005, risk_treatment: 0.006110814731241718, ci_lower: -0.046738285152005954, ci_upper: 0.18063207508746254 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 3.200416666666669, std_dev: 3.0956213747326933, chance_to_win: 0.8493974961931676, risk_control: 3.4421278605842556, risk_treatment: 0.2417111939175865, ci_lower: -2.866889737581782, ci_upper: 9.267723070915117 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 3.200416666666669, std_dev: 3.0956213747326933, chance_to_win: 0.8493974961931676, risk_control: 3.4421278605842556, risk_treatment: 0.2417111939175865, ci_lower: -1.8914273792309055, ci_upper: 8.292260712564243 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 3.0423358040655932, std_dev: 3.0182009348095544, chance_to_win: 0.8432719148805767, risk_control: 3.2899927985686928, risk_treatment: 0.2476569945030998, ci_lower: -2.8732293262662587, ci_upper: 8.957900934397443 },
        BayesCase { name: "revenue_unequal_n", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.1, control: SampleMean { n: 1200.0, sum: 54321.5, sum_sq: 9876543.25 }, treatment: SampleMean { n: 1350.0, sum: 65432.25, sum_sq: 11234567.5 }, expected: 3.0423358040655932, std_dev: 3.0182009348095544, chance_to_win: 0.8432719148805767, risk_control: 3.2899927985686928, risk_treatment: 0.2476569945030998, ci_lower: -1.9221629504242284, ci_upper: 8.006834558555413 },
        BayesCase { name: "small_n", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, expected: 0.5, std_dev: 1.102606339878717, chance_to_win: 0.6748951896405535, risk_control: 0.7343440977401019, risk_treatment: 0.23434409774010176, ci_lower: -1.6610687152878154, ci_upper: 2.661068715287815 },
        BayesCase { name: "small_n", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, expected: 0.034463196709686575, std_dev: 0.2894764663876088, chance_to_win: 0.5473835288486328, risk_control: 0.13353345785747492, risk_treatment: 0.09907026114778833, ci_lower: -0.5329002517819463, ci_upper: 0.6018266452013193 },
        BayesCase { name: "small_n", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, expected: 2.25, std_dev: 4.190017899723102, chance_to_win: 0.704362927807747, risk_control: 3.0319534828455805, risk_treatment: 0.7819534828455806, ci_lower: -5.962284178035443, ci_upper: 10.462284178035441 },
        BayesCase { name: "small_n", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 5.0, sum: 22.5, sum_sq: 214.25 }, treatment: SampleMean { n: 4.0, sum: 27.0, sum_sq: 325.125 }, expected: 0.21160420563761853, std_dev: 1.2849515918638836, chance_to_win: 0.5654015731772283, risk_control: 0.6253588686963265, risk_treatment: 0.413754663058708, ci_lower: -2.306854636293005, ci_upper: 2.7300630475682413 },
        BayesCase { name: "negative_net_revenue", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, expected: -0.4149598346408606, std_dev: 0.36528270661285983, chance_to_win: 0.12797903837741426, risk_control: 0.02333254338200484, risk_treatment: 0.43829237802286547, ci_lower: -1.1309007837773772, ci_upper: 0.3009811144956557 },
        BayesCase { name: "negative_net_revenue", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, expected: -0.16714918225030548, std_dev: 0.23183457694853052, chance_to_win: 0.235459465004273, risk_control: 0.03196309261829735, risk_treatment: 0.1991122748686028, ci_lower: -0.6215366034405052, ci_upper: 0.2872382389398942 },
        BayesCase { name: "negative_net_revenue", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, expected: 2.103154761904762, std_dev: 2.281275599901015, chance_to_win: 0.8217149796848482, risk_control: 2.3232064984880187, risk_treatment: 0.22005173658325686, ci_lower: -2.368063252711235, ci_upper: 6.574372776520757 },
        BayesCase { name: "negative_net_revenue", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 300.0, sum: -1520.5, sum_sq: 250000.75 }, treatment: SampleMean { n: 280.0, sum: -830.25, sum_sq: 198000.5 }, expected: 0.6469180963098885, std_dev: 1.26522215888203, chance_to_win: 0.6954322660592087, risk_control: 0.892788857008051, risk_treatment: 0.24587076069816266, ci_lower: -1.832871767540905, ci_upper: 3.1267079601606813 },
        BayesCase { name: "large_n", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, expected: 0.014056224899598346, std_dev: 0.008002365002278163, chance_to_win: 0.9604992186743284, risk_control: 0.014183581547572316, risk_treatment: 0.0001273566479739698, ci_lower: -0.0016281222960106458, ci_upper: 0.02974057209520733 },
        BayesCase { name: "large_n", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, expected: 0.014046230562437942, std_dev: 0.007999519552799234, chance_to_win: 0.9604459144409484, risk_control: 0.014173739415536084, risk_treatment: 0.00012750885309814215, ci_lower: -0.0016325396546725181, ci_upper: 0.0297250007795484 },
        BayesCase { name: "large_n", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, expected: 0.056224899598393385, std_dev: 0.0317893645798069, chance_to_win: 0.9615255301279529, risk_control: 0.05671575150830725, risk_treatment: 0.0004908519099138699, ci_lower: -0.006081110069441419, ci_upper: 0.11853090926622817 },
        BayesCase { name: "large_n", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 250000.0, sum: 1000000.0, sum_sq: 35000000.0 }, treatment: SampleMean { n: 249000.0, sum: 1010000.0, sum_sq: 36000000.0 }, expected: 0.056185469739915325, std_dev: 0.03177821587176133, chance_to_win: 0.9614737146962712, risk_control: 0.056676908404322365, risk_treatment: 0.0004914386644070433, ci_lower: -0.006098688861676006, ci_upper: 0.11846962834150665 },
        BayesCase { name: "clear_win", scale: EffectScale::Relative, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, expected: 0.0875, std_dev: 0.01785357273899244, chance_to_win: 0.9999995232007776, risk_control: 0.08750000161564724, risk_treatment: 1.6156472522095783e-09, ci_lower: 0.05250764043620868, ci_upper: 0.1224923595637913 },
        BayesCase { name: "clear_win", scale: EffectScale::Relative, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, expected: 0.08719119778349534, std_dev: 0.017822040763510225, chance_to_win: 0.9999995017389182, risk_control: 0.0871911994714861, risk_treatment: 1.6879907570321816e-09, ci_lower: 0.052260639756010564, ci_upper: 0.1221217558109801 },
        BayesCase { name: "clear_win", scale: EffectScale::Absolute, prior: Prior::Flat, alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, expected: 3.5, std_dev: 0.6847645135551274, chance_to_win: 0.9999998399796918, risk_control: 3.5000000200450483, risk_treatment: 2.004504834014511e-08, ci_lower: 2.1578862155408602, ci_upper: 4.842113784459139 },
        BayesCase { name: "clear_win", scale: EffectScale::Absolute, prior: Prior::Normal { mean: 0.0, variance: 0.09 }, alpha: 0.05, control: SampleMean { n: 4000.0, sum: 160000.0, sum_sq: 9999100.0 }, treatment: SampleMean { n: 4100.0, sum: 178350.0, sum_sq: 11857225.0 }, expected: 3.4886400567258544, std_dev: 0.6836523409446689, chance_to_win: 0.999999832795585, risk_control: 3.4886400776667608, risk_treatment: 2.0940906046981247e-08, ci_lower: 2.1487060905278055, ci_upper: 4.828574022923903 },
    ];

    #[test]
    fn posterior_matches_gbstats() {
        for case in BAYES_CASES {
            let c = case.control.summarize().expect("control");
            let t = case.treatment.summarize().expect("treatment");
            let r = bayesian_test(&c, &t, case.scale, case.prior, case.alpha).expect(case.name);
            assert_rel(r.expected, case.expected, 1e-10, case.name);
            assert_rel(r.std_dev, case.std_dev, 1e-10, case.name);
            assert_rel(r.chance_to_win, case.chance_to_win, 1e-6, case.name);
            assert_rel(r.risk_control, case.risk_control, 1e-6, case.name);
            assert_rel(r.risk_treatment, case.risk_treatment, 1e-6, case.name);
            assert_rel(r.ci.lower, case.ci_lower, 1e-6, case.name);
            assert_rel(r.ci.upper, case.ci_upper, 1e-6, case.name);
        }
    }

    #[test]
    fn risks_differ_by_the_posterior_mean() {
        // E[max(X,0)] − E[max(−X,0)] = E[X].
        for (mu, sigma) in [(0.3, 0.1), (-2.0, 5.0), (0.0, 1.0), (40.0, 0.5)] {
            let (gain, loss) = risks(mu, sigma);
            assert_abs(gain - loss, mu, 1e-12 * (1.0 + mu.abs()), "risk identity");
            assert!(gain >= 0.0 && loss >= 0.0);
        }
    }

    #[test]
    fn invalid_priors_and_baselines_are_errors() {
        let c = ArmSummary::new(100.0, 10.0, 4.0);
        let t = ArmSummary::new(100.0, 11.0, 4.0);
        let bad = Prior::Normal {
            mean: 0.0,
            variance: 0.0,
        };
        assert!(matches!(
            bayesian_test(&c, &t, EffectScale::Relative, bad, 0.05),
            Err(StatsError::InvalidParameter {
                name: "prior variance",
                ..
            })
        ));
        let zero = ArmSummary::new(100.0, 0.0, 4.0);
        let proper = Prior::Normal {
            mean: 0.0,
            variance: 0.09,
        };
        assert_eq!(
            bayesian_test(&zero, &t, EffectScale::Absolute, proper, 0.05),
            Err(StatsError::ZeroControlMean)
        );
        assert_eq!(
            bayesian_test(&zero, &t, EffectScale::Relative, Prior::Flat, 0.05),
            Err(StatsError::ZeroControlMean)
        );
        // A flat prior needs no baseline on the absolute scale.
        assert!(bayesian_test(&zero, &t, EffectScale::Absolute, Prior::Flat, 0.05).is_ok());
    }

    #[test]
    fn result_field_names_are_stable() {
        let c = ArmSummary::new(100.0, 10.0, 4.0);
        let t = ArmSummary::new(100.0, 11.0, 4.0);
        let r = bayesian_test(&c, &t, EffectScale::Relative, Prior::Flat, 0.05).expect("test");
        assert_eq!(
            field_names(&r),
            [
                "scale",
                "prior",
                "expected",
                "std_dev",
                "chance_to_win",
                "risk_control",
                "risk_treatment",
                "alpha",
                "ci"
            ]
        );
    }
}
