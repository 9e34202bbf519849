//! Lift: treatment arms against the holdout, per metric and segment, with
//! every interval finance asks for.
//!
//! The DataFrame world is reduced in one pass to a table of mergeable
//! sufficient statistics per segment × arm × metric (`units`,
//! `sufficient`); every test comes from `stats` on those sums, so the same
//! report can be computed from a table aggregated elsewhere (`--stats`). A result that cannot be computed carries an `error` saying why,
//! never a NaN.

pub mod calibration;
pub mod sufficient;
pub mod table;
pub mod units;

use crate::stats::{
    self, bayesian_test, cuped_adjust, delta_method_test, fieller_interval, sequential_test,
    two_proportion_test, welch_test, ArmSummary, BayesianResult, EffectScale, FiellerResult,
    FrequentistResult, Headline, Prior, Proportion, SequentialResult, SrmResult,
};
use anyhow::{bail, Result};
use serde::Serialize;
pub use sufficient::{MetricSpec, Moments, SegmentStats, StatsTable};
use units::MetricKind;

#[derive(Debug, Clone)]
pub struct LiftOptions {
    pub alpha: f64,
    /// Standard deviation of a N(0, σ²) prior on the relative lift; flat when `None`.
    pub prior_sd: Option<f64>,
    pub cuped: bool,
    /// Planned units (all arms) for always-valid sequential intervals.
    pub sequential_planned: Option<f64>,
    pub cap: Option<Cap>,
}

impl Default for LiftOptions {
    fn default() -> Self {
        LiftOptions {
            alpha: 0.05,
            prior_sd: None,
            cuped: false,
            sequential_planned: None,
            cap: None,
        }
    }
}

/// Winsorizing bounds: quantiles of the pooled units, or fixed values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cap {
    Quantiles {
        #[serde(skip_serializing_if = "Option::is_none")]
        lower: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        upper: Option<f64>,
    },
    Values {
        #[serde(skip_serializing_if = "Option::is_none")]
        lower: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        upper: Option<f64>,
    },
}

impl Cap {
    /// `p99.9` (upper quantile), `p0.1:p99.9`, `-50:2000` (values), `:2000`.
    pub fn parse(text: &str) -> Result<Cap, String> {
        let (lo, hi) = match text.split_once(':') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => ("", text.trim()),
        };
        let is_q = |s: &str| s.starts_with('p');
        let num = |s: &str, q: bool| -> Result<Option<f64>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            let body = if q { &s[1..] } else { s };
            let x: f64 = body
                .parse()
                .map_err(|_| format!("--cap {text}: `{s}` is not a number; expected e.g. p99.9, p0.1:p99.9 or -50:2000"))?;
            if q && !(0.0..=100.0).contains(&x) {
                return Err(format!("--cap {text}: percentile {x} is outside 0–100"));
            }
            Ok(Some(if q { x / 100.0 } else { x }))
        };
        let quantiles = is_q(lo) || is_q(hi);
        if quantiles && ((!lo.is_empty() && !is_q(lo)) || (!hi.is_empty() && !is_q(hi))) {
            return Err(format!(
                "--cap {text}: mix of percentiles and values; use p.. on both sides or neither"
            ));
        }
        let (lower, upper) = (num(lo, quantiles)?, num(hi, quantiles)?);
        if let (Some(a), Some(b)) = (lower, upper) {
            if a > b {
                return Err(format!("--cap {text}: lower bound above upper bound"));
            }
        }
        Ok(if quantiles {
            Cap::Quantiles { lower, upper }
        } else {
            Cap::Values { lower, upper }
        })
    }

    /// The bounds for these pooled values.
    pub(crate) fn bounds(&self, values: &[f64]) -> (f64, f64) {
        match *self {
            Cap::Values { lower, upper } => (
                lower.unwrap_or(f64::NEG_INFINITY),
                upper.unwrap_or(f64::INFINITY),
            ),
            Cap::Quantiles { lower, upper } => {
                // Two order statistics per bound by selection (linear
                // time), not a sort of every value.
                let mut work = values.to_vec();
                let mut q = |p: f64| quantile_select(&mut work, p);
                (
                    lower.map_or(f64::NEG_INFINITY, &mut q),
                    upper.map_or(f64::INFINITY, &mut q),
                )
            }
        }
    }
}

/// Parses `--weights ARM=W,...` (positive weights, any scale; an arm at
/// most once).
pub fn parse_weights(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (arm, w) = part.rsplit_once('=').ok_or_else(|| {
            format!("--weights {text}: `{part}` is not ARM=WEIGHT (e.g. control=0.1,flow=0.9)")
        })?;
        let arm = arm.trim();
        let w: f64 = w
            .trim()
            .parse()
            .map_err(|_| format!("--weights {text}: weight of `{arm}` is not a number"))?;
        if !(w.is_finite() && w > 0.0) {
            return Err(format!(
                "--weights {text}: weight of `{arm}` must be a positive number"
            ));
        }
        if out.iter().any(|(a, _)| a == arm) {
            return Err(format!("--weights {text}: arm `{arm}` is given twice"));
        }
        out.push((arm.to_string(), w));
    }
    if out.len() < 2 {
        return Err(format!(
            "--weights {text}: expected a weight for each arm, at least two"
        ));
    }
    Ok(out)
}

/// Linear-interpolation quantile (numpy's default) of unsorted values, by
/// selection (`values` is reordered): the same number as sorting them first.
/// NaN when there are none.
fn quantile_select(values: &mut [f64], p: f64) -> f64 {
    QuantileTail::new(p, values.len()).quantile(values)
}

/// One quantile of `n` values seen as a stream, from the few values on its
/// side of the distribution: the `keep` largest when `p` ≥ 0.5, else the
/// `keep` smallest. Gives the same number as [`quantile_select`] on all `n`
/// values (linear interpolation, numpy's default), holding about
/// `min(p, 1 − p) · n` values instead of `n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantileTail {
    p: f64,
    n: usize,
    /// Values kept: those from sorted position `lo` up (top side) or up to
    /// position `hi` (bottom side).
    pub keep: usize,
    pub top: bool,
}

impl QuantileTail {
    pub fn new(p: f64, n: usize) -> QuantileTail {
        let (lo, hi) = Self::positions(p, n);
        let top = p >= 0.5;
        let keep = if n == 0 {
            0
        } else if top {
            n - lo
        } else {
            hi + 1
        };
        QuantileTail { p, n, keep, top }
    }

    fn positions(p: f64, n: usize) -> (usize, usize) {
        let pos = p * n.saturating_sub(1) as f64;
        (pos.floor() as usize, pos.ceil() as usize)
    }

    /// Offers `v` to one stream's keeper (a heap of at most `keep` values).
    pub fn offer(&self, kept: &mut std::collections::BinaryHeap<TailValue>, v: f64) {
        // The heap's top is the kept value nearest the middle: the smallest
        // on the top side, the largest on the bottom side.
        let item = TailValue { v, top: self.top };
        if kept.len() < self.keep {
            kept.push(item);
        } else if let Some(mut nearest) = kept.peek_mut() {
            if item < *nearest {
                *nearest = item;
            }
        }
    }

    /// The quantile from the union of every stream's kept values (each
    /// stream kept its own `keep` most extreme; `union` is reordered). NaN
    /// when `n` is 0.
    pub fn quantile(&self, union: &mut [f64]) -> f64 {
        if self.n == 0 || union.is_empty() {
            return f64::NAN;
        }
        let pos = self.p * (self.n - 1) as f64;
        let (lo, hi) = Self::positions(self.p, self.n);
        // Sorted position x of all n values is position x − (n − len) of
        // the union on the top side (the values below were dropped), x on
        // the bottom side.
        let shift = if self.top { self.n - union.len() } else { 0 };
        // The value at `lo`, and the next one up (the least above it).
        let (_, &mut at_lo, above) = union.select_nth_unstable_by(lo - shift, f64::total_cmp);
        let at_hi = if hi == lo {
            at_lo
        } else {
            above
                .iter()
                .copied()
                .min_by(f64::total_cmp)
                .unwrap_or(at_lo)
        };
        at_lo + (at_hi - at_lo) * (pos - lo as f64)
    }
}

/// A value kept by a [`QuantileTail`], ordered so that a max-heap's top is
/// the kept value nearest the middle of the distribution (the first to go).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TailValue {
    pub v: f64,
    top: bool,
}

impl PartialEq for TailValue {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for TailValue {}
impl PartialOrd for TailValue {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for TailValue {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let c = self.v.total_cmp(&o.v);
        if self.top {
            c.reverse()
        } else {
            c
        }
    }
}

/// One treatment × metric × segment.
#[derive(Debug, Clone, Serialize)]
pub struct LiftResult {
    pub treatment: String,
    pub metric: String,
    pub kind: MetricKind,
    pub segment: Segment,
    /// The absolute effect the report shows: the calibrated method for this
    /// metric kind (`stats::headline`), or `withheld` with the reason.
    pub headline: Headline,
    /// The relative effect (treatment / control − 1) the report shows.
    pub headline_relative: Headline,
    /// Buyers, skewness and Kohavi's minimum sample per arm (mean metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<Guidance>,
    /// The headline on winsorized values, beside the raw one when the raw
    /// metric fails Kohavi's check and no `--cap` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capped: Option<CappedHeadline>,
    pub control: Option<ArmSummary>,
    pub treatment_arm: Option<ArmSummary>,
    pub absolute: Option<FrequentistResult>,
    pub relative: Option<FrequentistResult>,
    pub fieller: Option<FiellerResult>,
    /// Unpooled z test and Newcombe interval for a difference of proportions.
    pub proportions: Option<stats::ProportionTest>,
    pub bayesian: Option<BayesianResult>,
    pub cuped: Option<CupedResult>,
    pub sequential: Option<SequentialPair>,
    pub p_value_holm: Option<f64>,
    pub p_value_bh: Option<f64>,
    pub guardrail: Option<Guardrail>,
    /// Why some or all of the above could not be computed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Segment {
    pub dimension: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CupedResult {
    pub theta: f64,
    pub adjusted: bool,
    pub absolute: FrequentistResult,
    pub relative: FrequentistResult,
}

/// Always-valid intervals: the headline methods run at the confidence
/// sequence's level for this sample size (`level`), with anytime p-values;
/// `absolute`/`relative` are the Welch/delta-method sequences (gbstats).
#[derive(Debug, Clone, Serialize)]
pub struct SequentialPair {
    pub headline: Headline,
    pub headline_relative: Headline,
    /// The fixed-horizon level equivalent to the sequence at this size.
    pub level: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute: Option<SequentialResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<SequentialResult>,
}

/// One arm of a mean metric, against Kohavi's rule of thumb.
#[derive(Debug, Clone, Serialize)]
pub struct ArmGuidance {
    pub n: f64,
    /// Units with a non-zero value (buyers, for revenue).
    pub buyers: f64,
    pub skewness: f64,
    /// 355 × skewness²: units a t interval needs (Kohavi et al. 2014).
    pub kohavi_min_n: f64,
    pub meets_kohavi: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Guidance {
    pub control: ArmGuidance,
    pub treatment: ArmGuidance,
    /// What the report does about a failed check, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The headline computed again on winsorized per-unit values.
#[derive(Debug, Clone, Serialize)]
pub struct CappedHeadline {
    pub cap: Cap,
    pub headline: Headline,
    pub headline_relative: Headline,
}

/// A rate per message sent in the treatment, against its threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Guardrail {
    pub threshold: f64,
    pub events: f64,
    pub messages: f64,
    pub rate_per_message: f64,
    /// Wilson interval of the per-message rate.
    pub ci: Option<stats::Interval>,
    pub breached: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiftReport {
    pub control: String,
    pub alpha: f64,
    pub units: std::collections::BTreeMap<String, u64>,
    pub srm: Option<SrmResult>,
    pub srm_error: Option<String>,
    pub options: ReportedOptions,
    pub results: Vec<LiftResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportedOptions {
    pub prior_sd: Option<f64>,
    pub cuped: bool,
    pub sequential_planned_units: Option<f64>,
    pub cap: Option<Cap>,
}

/// Analyses every treatment × metric × segment of a statistics table
/// against `control`; `arms` lists the arms in report order and `weights`
/// the configured split (arm, weight) for the SRM check, when known.
pub fn analyze(
    stats: &StatsTable,
    arms: &[String],
    control: &str,
    weights: Option<&[(String, f64)]>,
    opts: &LiftOptions,
) -> Result<LiftReport> {
    if stats.segments.is_empty() || stats.metrics.is_empty() {
        bail!("no units to analyze");
    }
    let counts = stats.overall_counts();
    for seen in counts.keys() {
        if !arms.iter().any(|a| a == seen) {
            bail!(
                "arm `{seen}` is in the data but not in the configuration (arms: {})",
                arms.join(", ")
            );
        }
    }
    if counts.get(control).copied().unwrap_or(0) == 0 {
        bail!("the control arm `{control}` has no units; nothing to compare against");
    }
    let (srm, srm_error) = match weights {
        Some(w) => {
            let observed: Vec<u64> = w
                .iter()
                .map(|(a, _)| counts.get(a).copied().unwrap_or(0))
                .collect();
            let ws: Vec<f64> = w.iter().map(|(_, x)| *x).collect();
            match stats::srm_test(&observed, &ws) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        None => (None, None),
    };
    let mut results = Vec::new();
    for seg in &stats.segments {
        for treatment in arms.iter().filter(|a| a.as_str() != control) {
            for (m, spec) in stats.metrics.iter().enumerate() {
                results.push(compare(seg, m, spec, control, treatment, opts));
            }
        }
    }
    adjust_family(&mut results);
    Ok(LiftReport {
        control: control.to_string(),
        alpha: opts.alpha,
        units: counts,
        srm,
        srm_error,
        options: ReportedOptions {
            prior_sd: opts.prior_sd,
            cuped: opts.cuped,
            sequential_planned_units: opts.sequential_planned,
            cap: opts.cap,
        },
        results,
    })
}

/// The p-value of a result's difference: the headline's.
pub fn p_value(r: &LiftResult) -> Option<f64> {
    r.headline.p_value
}

/// Holm and Benjamini–Hochberg over every p-value reported.
fn adjust_family(results: &mut [LiftResult]) {
    let idx: Vec<usize> = (0..results.len())
        .filter(|&i| p_value(&results[i]).is_some())
        .collect();
    let ps: Vec<f64> = idx
        .iter()
        .map(|&i| p_value(&results[i]).expect("filtered"))
        .collect();
    if let (Ok(holm), Ok(bh)) = (stats::holm(&ps), stats::benjamini_hochberg(&ps)) {
        for (k, &i) in idx.iter().enumerate() {
            results[i].p_value_holm = Some(holm[k]);
            results[i].p_value_bh = Some(bh[k]);
        }
    }
}

fn withheld(method: &'static str, why: &str) -> Headline {
    Headline {
        method,
        estimate: None,
        ci: None,
        p_value: None,
        withheld: Some(why.to_string()),
    }
}

/// The headline pair of one comparison at level `alpha`.
fn headlines(kind: MetricKind, mc: &Moments, mt: &Moments, alpha: f64) -> (Headline, Headline) {
    match kind {
        MetricKind::Mean => stats::mean_headlines(&mc.central(), &mt.central(), alpha),
        MetricKind::Proportion => {
            stats::proportion_headlines(&mc.proportion(), &mt.proportion(), alpha)
        }
        MetricKind::Ratio => match stats::summarize_pair(&mc.ratio(), &mt.ratio()) {
            Ok((c, t)) => stats::ratio_headlines(&c, &t, alpha),
            Err(e) => (
                withheld("welch", &e.to_string()),
                withheld("delta_method", &e.to_string()),
            ),
        },
    }
}

fn arm_guidance(m: &Moments) -> ArmGuidance {
    let skewness = m
        .central()
        .skewness()
        .ok()
        .filter(|s| s.is_finite())
        .unwrap_or(0.0);
    let kohavi_min_n = stats::kohavi_minimum_n(skewness);
    ArmGuidance {
        n: m.n,
        buyers: m.nonzero,
        skewness,
        kohavi_min_n,
        meets_kohavi: m.n >= kohavi_min_n,
    }
}

fn guidance(mc: &Moments, mt: &Moments, headline: &Headline) -> Guidance {
    let (control, treatment) = (arm_guidance(mc), arm_guidance(mt));
    let note = (!control.meets_kohavi || !treatment.meets_kohavi).then(|| {
        let worst = if control.kohavi_min_n >= treatment.kohavi_min_n {
            ("control", &control)
        } else {
            ("treatment", &treatment)
        };
        format!(
            "skewness {:.1} in the {} arm: a t interval needs about {:.0} units per arm \
             (Kohavi: 355 × skewness²), the arms have {:.0} and {:.0}; the headline uses {} \
             instead of Welch's t. Capping large values (--cap p99.9) trades a little bias \
             for much less noise",
            worst.1.skewness,
            worst.0,
            worst.1.kohavi_min_n,
            control.n,
            treatment.n,
            match headline.method {
                "randomization_shift" => "randomization inference (Pearson III, test inversion)",
                other => other,
            },
        )
    });
    Guidance {
        control,
        treatment,
        note,
    }
}

fn compare(
    seg: &SegmentStats,
    m: usize,
    spec: &MetricSpec,
    control: &str,
    treatment: &str,
    opts: &LiftOptions,
) -> LiftResult {
    let mut r = LiftResult {
        treatment: treatment.to_string(),
        metric: spec.name.clone(),
        kind: spec.kind,
        segment: seg.segment.clone(),
        headline: withheld("none", "not computed"),
        headline_relative: withheld("none", "not computed"),
        guidance: None,
        capped: None,
        control: None,
        treatment_arm: None,
        absolute: None,
        relative: None,
        fieller: None,
        proportions: None,
        bayesian: None,
        cuped: None,
        sequential: None,
        p_value_holm: None,
        p_value_bh: None,
        guardrail: None,
        error: None,
    };
    let (mc, mt) = (seg.get(control, m), seg.get(treatment, m));
    if mc.n == 0.0 || mt.n == 0.0 {
        let why = format!(
            "no units in {} for this segment",
            if mc.n == 0.0 {
                "the control"
            } else {
                "the treatment"
            }
        );
        r.headline = withheld("none", &why);
        r.headline_relative = withheld("none", &why);
        r.error = Some(why);
        return r;
    }
    for (arm, m) in [("control", &mc), ("treatment", &mt)] {
        if let Err((column, what)) = m.check_plausible() {
            let why = format!(
                "the {arm} arm's statistics are out of range (`{column}` has {what}); \
                 no statistic is computed from them"
            );
            r.headline = withheld("none", &why);
            r.headline_relative = withheld("none", &why);
            r.error = Some(why);
            return r;
        }
    }
    (r.headline, r.headline_relative) = headlines(spec.kind, &mc, &mt, opts.alpha);
    if spec.kind == MetricKind::Mean {
        r.guidance = Some(guidance(&mc, &mt, &r.headline));
    }
    let summaries = match spec.kind {
        MetricKind::Mean => stats::summarize_pair(&mc.central(), &mt.central()),
        MetricKind::Proportion => {
            let (pc, pt) = (mc.proportion(), mt.proportion());
            r.proportions = two_proportion_test(&pc, &pt, opts.alpha).ok();
            if let Some(threshold) = spec.guardrail {
                r.guardrail = guardrail(&mt, threshold, opts.alpha);
            }
            stats::summarize_pair(&pc, &pt)
        }
        MetricKind::Ratio => stats::summarize_pair(&mc.ratio(), &mt.ratio()),
    };
    let (c, t) = match summaries {
        Ok(pair) => pair,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    r.control = Some(c);
    r.treatment_arm = Some(t);
    let mut errors = Vec::new();
    let mut note = |what: &str, e: stats::StatsError| errors.push(format!("{what}: {e}"));
    match welch_test(&c, &t, opts.alpha) {
        Ok(x) => r.absolute = Some(x),
        Err(e) => note("absolute", e),
    }
    match delta_method_test(&c, &t, opts.alpha) {
        Ok(x) => r.relative = Some(x),
        Err(e) => note("relative", e),
    }
    match fieller_interval(&c, &t, opts.alpha) {
        Ok(x) => r.fieller = Some(x),
        Err(e) => note("fieller", e),
    }
    let prior = match opts.prior_sd {
        Some(sd) => Prior::Normal {
            mean: 0.0,
            variance: sd * sd,
        },
        None => Prior::Flat,
    };
    match bayesian_test(&c, &t, EffectScale::Relative, prior, opts.alpha) {
        Ok(x) => r.bayesian = Some(x),
        Err(e) => note("bayesian", e),
    }
    if opts.cuped && spec.kind == MetricKind::Mean && spec.covariate {
        match cuped(&mc, &mt, opts.alpha) {
            Ok(x) => r.cuped = Some(x),
            Err(e) => note("cuped", e),
        }
    }
    if let Some(planned) = opts.sequential_planned {
        match sequential(spec.kind, &mc, &mt, &c, &t, opts.alpha, planned) {
            Ok(x) => r.sequential = Some(x),
            Err(e) => note("sequential", e),
        }
    }
    if !errors.is_empty() {
        r.error = Some(errors.join("; "));
    }
    r
}

/// The headline methods at the confidence sequence's level, beside the
/// Welch/delta-method sequences.
fn sequential(
    kind: MetricKind,
    mc: &Moments,
    mt: &Moments,
    c: &ArmSummary,
    t: &ArmSummary,
    alpha: f64,
    planned: f64,
) -> Result<SequentialPair, stats::StatsError> {
    let rho = stats::sequential::tuning_rho(alpha, planned)?;
    let units = mc.n + mt.n;
    let level = stats::headline::sequential_level(units, rho, alpha);
    let (abs, rel) = headlines(kind, mc, mt, level);
    Ok(SequentialPair {
        headline: stats::headline::sequential_headline(&abs, units, rho),
        headline_relative: stats::headline::sequential_headline(&rel, units, rho),
        level,
        absolute: sequential_test(c, t, EffectScale::Absolute, alpha, planned).ok(),
        relative: sequential_test(c, t, EffectScale::Relative, alpha, planned).ok(),
    })
}

/// The treatment's events per message sent, against the threshold.
fn guardrail(treatment: &Moments, threshold: f64, alpha: f64) -> Option<Guardrail> {
    let (events, sent) = (treatment.sum, treatment.sum_messages);
    if sent <= 0.0 {
        return None;
    }
    let rate = events / sent;
    let stat = Proportion {
        n: sent,
        successes: events,
    };
    Some(Guardrail {
        threshold,
        events,
        messages: sent,
        rate_per_message: rate,
        ci: stats::wilson_interval(&stat, alpha).ok(),
        breached: rate > threshold,
    })
}

fn cuped(
    control: &Moments,
    treatment: &Moments,
    alpha: f64,
) -> Result<CupedResult, stats::StatsError> {
    let adj = cuped_adjust(&control.regression(), &treatment.regression())?;
    Ok(CupedResult {
        theta: adj.theta,
        adjusted: adj.adjusted,
        absolute: welch_test(&adj.control, &adj.treatment, alpha)?,
        relative: delta_method_test(&adj.control, &adj.treatment, alpha)?,
    })
}

/// The winsorizing bound of the capped result shown beside a raw headline
/// that fails Kohavi's check: the pooled 99.9th percentile.
pub const SUGGESTED_CAP: Cap = Cap::Quantiles {
    lower: None,
    upper: Some(0.999),
};

/// Whether a capped result should be computed beside this report: no cap
/// was asked for and some mean metric fails Kohavi's check.
pub fn needs_capped(report: &LiftReport, opts: &LiftOptions) -> bool {
    opts.cap.is_none()
        && report
            .results
            .iter()
            .any(|r| r.guidance.as_ref().is_some_and(|g| g.note.is_some()))
}

/// Puts each capped headline beside the raw result that failed Kohavi's
/// check (matched by treatment, metric and segment).
pub fn attach_capped(report: &mut LiftReport, capped: &LiftReport, cap: Cap) {
    for r in &mut report.results {
        if r.guidance.as_ref().is_none_or(|g| g.note.is_none()) {
            continue;
        }
        if let Some(c) = capped
            .results
            .iter()
            .find(|c| c.treatment == r.treatment && c.metric == r.metric && c.segment == r.segment)
        {
            r.capped = Some(CappedHeadline {
                cap,
                headline: c.headline.clone(),
                headline_relative: c.headline_relative.clone(),
            });
        }
    }
}

/// The configured arms in order, with their weights.
fn config_arms(config: &crate::config::FlowConfig) -> (Vec<String>, Vec<(String, f64)>) {
    let arms = config.arms.iter().map(|a| a.name.clone()).collect();
    let weights = config
        .arms
        .iter()
        .map(|a| (a.name.clone(), a.weight))
        .collect();
    (arms, weights)
}

/// Carts mode: the statistics table of a carts table, customers as units,
/// overall and within each `segment_by` column.
pub fn carts_stats(
    carts: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
    segment_by: &[String],
    opts: &LiftOptions,
) -> Result<StatsTable> {
    units::carts_stats(carts, config, segment_by, opts.cap)
}

/// Carts mode: customers as units, overall and within each `segment_by` column.
pub fn analyze_carts(
    carts: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
    segment_by: &[String],
    opts: &LiftOptions,
) -> Result<LiftReport> {
    let stats = carts_stats(carts, config, segment_by, opts)?;
    let mut report = analyze_config(&stats, config, opts)?;
    capped_beside_carts(&mut report, carts, config, segment_by, opts)?;
    Ok(report)
}

/// Carts mode: when a mean metric fails Kohavi's check and no cap was
/// asked for, the headline on values capped at [`SUGGESTED_CAP`] beside it.
pub fn capped_beside_carts(
    report: &mut LiftReport,
    carts: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
    segment_by: &[String],
    opts: &LiftOptions,
) -> Result<()> {
    if !needs_capped(report, opts) {
        return Ok(());
    }
    let capped_opts = LiftOptions {
        cap: Some(SUGGESTED_CAP),
        sequential_planned: None,
        ..opts.clone()
    };
    let stats = carts_stats(carts, config, segment_by, &capped_opts)?;
    let capped = analyze_config(&stats, config, &capped_opts)?;
    attach_capped(report, &capped, SUGGESTED_CAP);
    Ok(())
}

/// A carts-mode statistics table against the flow's arms and holdout.
pub fn analyze_config(
    stats: &StatsTable,
    config: &crate::config::FlowConfig,
    opts: &LiftOptions,
) -> Result<LiftReport> {
    let (arms, weights) = config_arms(config);
    analyze(stats, &arms, &config.holdout().name, Some(&weights), opts)
}

/// Stats mode: a statistics table computed elsewhere (`cartlift sql`, or
/// `lift --write-stats`), possibly in pieces, analysed against the flow.
/// Caps cannot be applied after the reduction; they are rejected here.
pub fn run_stats(
    path: &std::path::Path,
    config: &crate::config::FlowConfig,
    segment_by: &[String],
    opts: &LiftOptions,
) -> Result<(StatsTable, LiftReport)> {
    if opts.cap.is_some() {
        bail!(
            "--cap cannot apply to a statistics table: winsorizing needs the per-unit values, \
             so it has to happen where the units are reduced (e.g. in the SQL)"
        );
    }
    let stats = StatsTable::read(path, segment_by, &units::CARTS_METRICS, |name| {
        units::carts_guardrail(config, name)
    })?;
    let report = analyze_config(&stats, config, opts)?;
    Ok((stats, report))
}

/// A carts table (Parquet with `entry_id`), or events reconstructed on the fly.
pub fn load_carts(
    path: &std::path::Path,
    config: &crate::config::FlowConfig,
) -> Result<polars::prelude::DataFrame> {
    load_carts_columns(path, config, None)
}

/// As [`load_carts`], reading only `columns` of a carts Parquet (every column
/// must exist; a missing one is an error naming it and listing the file's).
pub fn load_carts_columns(
    path: &std::path::Path,
    config: &crate::config::FlowConfig,
    columns: Option<&[String]>,
) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    if is_parquet {
        let f = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let mut reader = ParquetReader::new(f);
        let schema = reader
            .schema()
            .map_err(|e| anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display()))?;
        if schema.get(crate::flow::carts::ENTRY_ID).is_some() {
            if let Some(cols) = columns {
                if let Some(missing) = cols.iter().find(|c| schema.get(c.as_str()).is_none()) {
                    bail!(
                        "{}: the carts table has no column `{missing}`; its columns are {}",
                        path.display(),
                        schema
                            .iter_names()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                reader = reader.with_columns(Some(cols.to_vec()));
            }
            let carts = reader
                .finish()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            crate::validate::carts_table(&carts, path)?;
            return Ok(carts);
        }
    }
    // Raw events take the bounded-memory route `paths` takes.
    let opts = crate::events::ingest::IngestOptions {
        klaviyo_steps: Some(crate::events::klaviyo::StepMap::from_config(config)),
        ..Default::default()
    };
    Ok(crate::flow::reconstruct_inputs(&[path.to_path_buf()], &opts, config, false)?.carts)
}

/// Table mode: an exported recipients table, A/B/n against one control.
/// `weights` (arm, weight), when given, is the planned split for the SRM
/// check; every arm in the table must have one.
#[allow(clippy::too_many_arguments)]
pub fn run_table(
    path: &std::path::Path,
    arm_col: &str,
    control: &str,
    metrics: &[String],
    segment_by: &[String],
    covariate: Option<&str>,
    weights: Option<&[(String, f64)]>,
    opts: &LiftOptions,
) -> Result<(StatsTable, LiftReport)> {
    use polars::prelude::*;
    let shown = path.display().to_string();
    let df = units::read_table(path)?;
    let all = units::table_units(&df, arm_col, metrics, covariate, &shown)?;
    if !all.arm.iter().any(|a| a == control) {
        let mut arms: Vec<String> = all.arm.clone();
        arms.sort();
        arms.dedup();
        bail!(
            "--control {control}: no unit has this arm in column `{arm_col}` (arms found: {})",
            arms.join(", ")
        );
    }
    let mut dims = Vec::new();
    for dim in segment_by {
        let col = df
            .column(dim)
            .map_err(|_| anyhow::anyhow!("{shown}: --segment-by {dim}: no such column"))?
            .cast(&DataType::String)?;
        let values: Vec<String> = col
            .str()?
            .iter()
            .map(|v| v.unwrap_or("unknown").to_string())
            .collect();
        dims.push((dim.clone(), values));
    }
    let (stats, arms) = units::table_stats(&all, &dims, opts.cap);
    if let Some(w) = weights {
        for arm in &arms {
            if !w.iter().any(|(a, _)| a == arm) {
                bail!(
                    "--weights: arm `{arm}` is in {shown} but has no weight (weights given for {})",
                    w.iter()
                        .map(|(a, _)| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    // Without --weights an exported table does not say how it was split,
    // so there is no SRM check.
    let mut report = analyze(&stats, &arms, control, weights, opts)?;
    if needs_capped(&report, opts) {
        let (capped, _) = units::table_stats(&all, &dims, Some(SUGGESTED_CAP));
        let capped_opts = LiftOptions {
            cap: Some(SUGGESTED_CAP),
            sequential_planned: None,
            ..opts.clone()
        };
        let capped = analyze(&capped, &arms, control, None, &capped_opts)?;
        attach_capped(&mut report, &capped, SUGGESTED_CAP);
    }
    Ok((stats, report))
}

/// The holdout's baseline, for power planning.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub revenue_mean: f64,
    pub revenue_variance: f64,
    pub conversion_rate: f64,
    pub daily_customers: f64,
}

/// Baseline revenue per recipient and conversion rate of the holdout, and
/// customers entering per day over the table's span.
pub fn baseline(
    carts: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
) -> Result<Baseline> {
    let stats = units::carts_stats(carts, config, &[], None)?;
    let control = &config.holdout().name;
    let overall = &stats.segments[0];
    let metric = |name: &str| stats.metric(name).expect("carts metrics");
    let held = overall.get(control, metric("revenue_per_recipient"));
    if held.n < 2.0 {
        bail!("the holdout `{control}` has fewer than 2 customers; no baseline to plan from");
    }
    let revenue = held.central();
    let conv = overall.get(control, metric("conversion_rate"));
    let (conversions, entries) = (conv.sum, conv.sum_den);
    let customers: f64 = overall
        .arms
        .values()
        .map(|v| v.first().map_or(0.0, |m| m.n))
        .sum();
    let entered = carts
        .column(crate::flow::carts::ENTERED_AT)?
        .cast(&polars::prelude::DataType::Int64)?;
    let entered = entered.i64()?;
    let span_days = match (
        entered.iter().flatten().min(),
        entered.iter().flatten().max(),
    ) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 86_400e6,
        _ => 1.0,
    };
    Ok(Baseline {
        revenue_mean: revenue.mean()?,
        revenue_variance: revenue.variance()?,
        conversion_rate: if entries > 0.0 {
            conversions / entries
        } else {
            0.0
        },
        daily_customers: customers / span_days.max(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_from_the_tails_of_streams_equal_quantiles_of_all_values() {
        use std::collections::BinaryHeap;
        // Heavy ties at zero, a long tail, negative values, streams of
        // uneven sizes (one empty).
        let all: Vec<f64> = (0..5003)
            .map(|i| match i % 7 {
                0..=2 => 0.0,
                3 => -((i % 13) as f64),
                _ => ((i * 7919) % 1013) as f64 / 3.0,
            })
            .collect();
        let cuts = [0, 0, 17, 1800, 1801, 4000, 5003];
        for n in [0usize, 1, 2, 3, 10, 999, 5003] {
            let values = &all[..n];
            for p in [0.0, 0.001, 0.1, 0.4999, 0.5, 0.75, 0.999, 1.0] {
                let tail = QuantileTail::new(p, n);
                let mut union = Vec::new();
                for w in cuts.windows(2) {
                    let (a, b) = (w[0].min(n), w[1].min(n));
                    let mut kept = BinaryHeap::new();
                    for &v in &values[a..b] {
                        tail.offer(&mut kept, v);
                    }
                    assert!(kept.len() <= tail.keep);
                    union.extend(kept.into_iter().map(|t| t.v));
                }
                let got = tail.quantile(&mut union);
                let want = quantile_select(&mut values.to_vec(), p);
                assert!(
                    got.to_bits() == want.to_bits(),
                    "n {n} p {p}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn quantiles_by_selection_equal_quantiles_of_the_sorted_values() {
        let mut x: Vec<f64> = (0..1001)
            .map(|i| ((i * 7919) % 1013) as f64 / 3.0)
            .collect();
        x.extend([0.0; 50]);
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.0, 0.001, 0.25, 0.5, 0.9, 0.999, 1.0] {
            let mut work = x.clone();
            let pos = p * (sorted.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let want = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64);
            assert_eq!(quantile_select(&mut work, p), want, "p {p}");
        }
        assert!(quantile_select(&mut [], 0.5).is_nan());
    }
}
