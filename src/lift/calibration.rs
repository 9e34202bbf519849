//! Calibration of lift's intervals on real per-unit data: A/A splits (every
//! difference is noise) and splits with a known effect added to one arm,
//! run through the same reduction and analysis as `cartlift lift`.
//!
//! A replicate draws `size` units without replacement from the population,
//! randomizes `treatment_share` of them into the treatment, applies the
//! effect to the treatment's values, reduces both arms to the statistics
//! table ([`super::sufficient::reduce`]) and analyzes it
//! ([`super::analyze`]). Each interval either covers the truth, misses it
//! below (the interval lies below it) or above, or is withheld. For A/A the
//! truth is 0, so a miss is a false positive in that tail. Replicates are
//! seeded from (seed, replicate) with ChaCha8 and run in parallel; results
//! do not depend on the thread schedule.
//!
//! `tests/lift_calibration.rs` runs a short version; `examples/calibration.rs`
//! the full one whose table is in the README.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::sufficient::{reduce, MetricSpec, Unit};
use super::units::MetricKind;
use super::{analyze, LiftOptions, LiftReport, LiftResult, Segment};
use crate::stats::{Headline, Interval};

/// What is added to the treatment arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// A/A: nothing.
    None,
    /// Every treatment unit's value + this amount.
    Add(f64),
    /// Every treatment unit's value × this factor.
    Multiply(f64),
}

/// One configuration: the split and the sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Design {
    /// Share of the sampled units randomized into the treatment.
    pub treatment_share: f64,
    /// Units per replicate (at most the population).
    pub size: usize,
}

/// Tallies of one interval over the replicates.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub replicates: u64,
    /// Interval entirely below the truth.
    pub below: u64,
    /// Interval entirely above the truth.
    pub above: u64,
    pub withheld: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.replicates += o.replicates;
        self.below += o.below;
        self.above += o.above;
        self.withheld += o.withheld;
    }

    fn record(&mut self, ci: Option<Interval>, truth: f64) {
        self.replicates += 1;
        match ci {
            None => self.withheld += 1,
            Some(ci) if ci.upper < truth => self.below += 1,
            Some(ci) if ci.lower > truth => self.above += 1,
            Some(_) => {}
        }
    }

    /// Replicates with an interval shown.
    pub fn shown(&self) -> u64 {
        self.replicates - self.withheld
    }

    /// Share of shown intervals that miss the truth (both sides).
    pub fn miss_rate(&self) -> f64 {
        (self.below + self.above) as f64 / self.shown().max(1) as f64
    }
}

/// The intervals tallied per replicate: spend (a mean metric) and
/// conversion (spend > 0, a proportion), absolute and relative, by the
/// headline method and by Welch / the delta method.
pub const INTERVALS: [&str; 8] = [
    "spend absolute (headline)",
    "spend relative (headline)",
    "spend absolute (Welch)",
    "spend relative (delta method)",
    "conversion absolute (headline)",
    "conversion relative (headline)",
    "conversion absolute (Welch)",
    "conversion relative (delta method)",
];

/// Results of one design × effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub design: Design,
    pub effect: Effect,
    /// Truth per interval of [`INTERVALS`] (spend and conversion, absolute and relative).
    pub truth: [f64; 8],
    pub tallies: [Tally; 8],
}

fn headline_ci(h: &Headline) -> Option<Interval> {
    h.ci
}

fn specs() -> Vec<MetricSpec> {
    vec![
        MetricSpec {
            name: "spend".into(),
            kind: MetricKind::Mean,
            covariate: false,
            guardrail: None,
        },
        MetricSpec {
            name: "conversion".into(),
            kind: MetricKind::Proportion,
            covariate: false,
            guardrail: None,
        },
    ]
}

const ARMS: [&str; 2] = ["control", "treatment"];

/// The lift report of arms given as (value, arm index) units.
fn report(units: &[(f64, f64, usize)], opts: &LiftOptions) -> Option<LiftReport> {
    let arms: Vec<String> = ARMS.iter().map(|a| a.to_string()).collect();
    let table = reduce(
        specs(),
        vec![Segment {
            dimension: "all".into(),
            value: "all".into(),
        }],
        &arms,
        None,
        1,
        |_, emit| {
            for &(spend, converted, arm) in units {
                let values = [spend, converted];
                emit(
                    0,
                    arm,
                    &Unit {
                        values: &values,
                        den: 0.0,
                        cov: 0.0,
                        messages: 0.0,
                    },
                );
            }
        },
    );
    analyze(&table, &arms, ARMS[0], None, opts).ok()
}

fn result<'a>(r: &'a LiftReport, metric: &str) -> Option<&'a LiftResult> {
    r.results.iter().find(|x| x.metric == metric)
}

/// Draws one replicate's units: (spend after the effect, converted, arm).
fn draw(
    population: &[f64],
    design: Design,
    effect: Effect,
    rng: &mut ChaCha8Rng,
) -> Vec<(f64, f64, usize)> {
    let size = design.size.min(population.len());
    let mut idx: Vec<u32> = (0..population.len() as u32).collect();
    let (chosen, _) = idx.partial_shuffle(rng, size);
    let n_t = ((size as f64) * design.treatment_share).round() as usize;
    chosen
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let y = population[i as usize];
            let converted = if y > 0.0 { 1.0 } else { 0.0 };
            if k < n_t {
                let y = match effect {
                    Effect::None => y,
                    Effect::Add(a) => y + a,
                    Effect::Multiply(m) => y * m,
                };
                (y, converted, 1)
            } else {
                (y, converted, 0)
            }
        })
        .collect()
}

fn rng_for(seed: u64, replicate: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(replicate);
    rng
}

/// Runs `replicates` A/A or known-effect replicates of one design.
pub fn calibrate(
    population: &[f64],
    design: Design,
    effect: Effect,
    replicates: u64,
    seed: u64,
    alpha: f64,
) -> Calibration {
    let mu = population.iter().sum::<f64>() / population.len() as f64;
    let (spend_abs, spend_rel) = match effect {
        Effect::None => (0.0, 0.0),
        Effect::Add(a) => (a, a / mu),
        Effect::Multiply(m) => ((m - 1.0) * mu, m - 1.0),
    };
    // Conversion is spend > 0 before the effect: an A/A comparison always.
    let truth = [
        spend_abs, spend_rel, spend_abs, spend_rel, 0.0, 0.0, 0.0, 0.0,
    ];
    let opts = LiftOptions {
        alpha,
        ..LiftOptions::default()
    };
    let per: Vec<[Tally; 8]> = (0..replicates)
        .into_par_iter()
        .map(|rep| {
            let mut rng = rng_for(seed, rep);
            let units = draw(population, design, effect, &mut rng);
            let mut t = [Tally::default(); 8];
            let r = report(&units, &opts);
            let get = |metric: &str| r.as_ref().and_then(|r| result(r, metric));
            let (s, c) = (get("spend"), get("conversion"));
            let cis: [Option<Interval>; 8] = [
                s.and_then(|x| headline_ci(&x.headline)),
                s.and_then(|x| headline_ci(&x.headline_relative)),
                s.and_then(|x| x.absolute.map(|a| a.ci)),
                s.and_then(|x| x.relative.map(|a| a.ci)),
                c.and_then(|x| headline_ci(&x.headline)),
                c.and_then(|x| headline_ci(&x.headline_relative)),
                c.and_then(|x| x.absolute.map(|a| a.ci)),
                c.and_then(|x| x.relative.map(|a| a.ci)),
            ];
            for ((t, ci), truth) in t.iter_mut().zip(cis).zip(truth) {
                t.record(ci, truth);
            }
            t
        })
        .collect();
    let mut tallies = [Tally::default(); 8];
    for t in &per {
        for (total, x) in tallies.iter_mut().zip(t) {
            total.add(x);
        }
    }
    Calibration {
        design,
        effect,
        truth,
        tallies,
    }
}

/// The sequential intervals tallied: spend and conversion, absolute and
/// relative, each by the headline method at the sequence's level.
pub const SEQUENTIAL_INTERVALS: [&str; 4] = [
    "spend absolute",
    "spend relative",
    "conversion absolute",
    "conversion relative",
];

/// A/A replicates watched at `looks` evenly spaced interim looks (units in
/// random arrival order), with the sequences tuned to the final size: per
/// interval, how often any look excludes 0.
pub fn calibrate_sequential(
    population: &[f64],
    design: Design,
    looks: usize,
    replicates: u64,
    seed: u64,
    alpha: f64,
) -> [Tally; 4] {
    let opts = LiftOptions {
        alpha,
        sequential_planned: Some(design.size.min(population.len()) as f64),
        ..LiftOptions::default()
    };
    let per: Vec<[Tally; 4]> = (0..replicates)
        .into_par_iter()
        .map(|rep| {
            let mut rng = rng_for(seed, rep);
            let mut units = draw(population, design, Effect::None, &mut rng);
            // Arrival order independent of the arm.
            units.shuffle(&mut rng);
            let mut any = [false; 4];
            let mut withheld = [false; 4];
            for look in 1..=looks {
                let upto = units.len() * look / looks;
                let Some(r) = report(&units[..upto], &opts) else {
                    continue;
                };
                for (k, (metric, relative)) in [
                    ("spend", false),
                    ("spend", true),
                    ("conversion", false),
                    ("conversion", true),
                ]
                .into_iter()
                .enumerate()
                {
                    let seq = result(&r, metric).and_then(|x| x.sequential.as_ref());
                    let h = seq.map(|s| {
                        if relative {
                            &s.headline_relative
                        } else {
                            &s.headline
                        }
                    });
                    match h.and_then(|h| h.ci) {
                        Some(ci) if !ci.contains(0.0) => any[k] = true,
                        Some(_) => {}
                        None if look == looks => withheld[k] = true,
                        None => {}
                    }
                }
            }
            let mut t = [Tally::default(); 4];
            for ((t, any), withheld) in t.iter_mut().zip(any).zip(withheld) {
                t.replicates = 1;
                if any {
                    t.above = 1;
                } else if withheld {
                    t.withheld = 1;
                }
            }
            t
        })
        .collect();
    let mut tallies = [Tally::default(); 4];
    for t in &per {
        for (total, x) in tallies.iter_mut().zip(t) {
            total.add(x);
        }
    }
    tallies
}
