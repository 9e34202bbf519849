//! Lift: treatment arms against the holdout, per metric and segment, with
//! every interval finance asks for.
//!
//! The DataFrame world is reduced once to units (`units`), then to small
//! sufficient statistics per arm (`stats::moments`); every test comes from
//! `stats`. A result that cannot be computed carries an `error` saying why,
//! never a NaN.

pub mod table;
pub mod units;

use crate::stats::{
    self, bayesian_test, cuped_adjust, delta_method_test, fieller_interval, sequential_test,
    two_proportion_test, welch_test, ArmSummary, BayesianResult, EffectScale, FiellerResult,
    FrequentistResult, Prior, Proportion, Ratio, RegressionAdjusted, SampleMean, SequentialResult,
    SrmResult,
};
use anyhow::{bail, Result};
use serde::Serialize;
use units::{Metric, MetricKind, Units};

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
        lower: Option<f64>,
        upper: Option<f64>,
    },
    Values {
        lower: Option<f64>,
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
    fn bounds(&self, values: &[f64]) -> (f64, f64) {
        match *self {
            Cap::Values { lower, upper } => (
                lower.unwrap_or(f64::NEG_INFINITY),
                upper.unwrap_or(f64::INFINITY),
            ),
            Cap::Quantiles { lower, upper } => {
                let mut sorted = values.to_vec();
                sorted.sort_by(f64::total_cmp);
                let q = |p: f64| quantile(&sorted, p);
                (
                    lower.map_or(f64::NEG_INFINITY, q),
                    upper.map_or(f64::INFINITY, q),
                )
            }
        }
    }
}

/// Linear-interpolation quantile (numpy's default) of sorted values.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// One treatment × metric × segment.
#[derive(Debug, Clone, Serialize)]
pub struct LiftResult {
    pub treatment: String,
    pub metric: String,
    pub kind: MetricKind,
    pub segment: Segment,
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

#[derive(Debug, Clone, Serialize)]
pub struct SequentialPair {
    pub absolute: SequentialResult,
    pub relative: SequentialResult,
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

/// The units of one segment value.
pub struct SegmentUnits {
    pub segment: Segment,
    pub units: Units,
}

/// Analyses every treatment × metric × segment against `control`.
/// `overall` gives the unit counts for the SRM check; `weights` the
/// configured split (arm, weight) when known.
pub fn analyze(
    segments: &[SegmentUnits],
    arms: &[String],
    control: &str,
    weights: Option<&[(String, f64)]>,
    opts: &LiftOptions,
) -> Result<LiftReport> {
    let overall = segments
        .iter()
        .find(|s| s.segment.dimension == "all")
        .or(segments.first());
    let Some(overall) = overall else {
        bail!("no units to analyze");
    };
    let mut counts = std::collections::BTreeMap::new();
    for arm in &overall.units.arm {
        *counts.entry(arm.clone()).or_insert(0u64) += 1;
    }
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
    for seg in segments {
        for treatment in arms.iter().filter(|a| a.as_str() != control) {
            for metric in &seg.units.metrics {
                results.push(compare(
                    &seg.units,
                    metric,
                    control,
                    treatment,
                    &seg.segment,
                    opts,
                ));
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

/// The p-value of a result's difference: Welch, or the z test for proportions
/// where Welch cannot run (a zero-variance holdout).
pub fn p_value(r: &LiftResult) -> Option<f64> {
    r.absolute
        .as_ref()
        .map(|a| a.p_value)
        .or_else(|| r.proportions.as_ref().map(|p| p.p_value))
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

fn values_of(
    units: &Units,
    metric: &Metric,
    arm: &str,
    cap: Option<(f64, f64)>,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut v = Vec::new();
    let mut d = Vec::new();
    let mut x = Vec::new();
    for i in 0..units.len() {
        if units.arm[i] != arm {
            continue;
        }
        let mut y = metric.values[i];
        if let Some((lo, hi)) = cap {
            y = y.clamp(lo, hi);
        }
        v.push(y);
        if let Some(den) = &metric.denominators {
            d.push(den[i]);
        }
        if let Some(cov) = &units.covariate {
            x.push(cov[i]);
        }
    }
    (v, d, x)
}

fn compare(
    units: &Units,
    metric: &Metric,
    control: &str,
    treatment: &str,
    segment: &Segment,
    opts: &LiftOptions,
) -> LiftResult {
    let mut r = LiftResult {
        treatment: treatment.to_string(),
        metric: metric.name.clone(),
        kind: metric.kind,
        segment: segment.clone(),
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
    let cap = match (opts.cap, metric.kind) {
        (Some(c), MetricKind::Mean) => Some(c.bounds(&metric.values)),
        _ => None,
    };
    let (vc, dc, xc) = values_of(units, metric, control, cap);
    let (vt, dt, xt) = values_of(units, metric, treatment, cap);
    if vc.is_empty() || vt.is_empty() {
        r.error = Some(format!(
            "no units in {} for this segment",
            if vc.is_empty() {
                "the control"
            } else {
                "the treatment"
            }
        ));
        return r;
    }
    let summaries = match metric.kind {
        MetricKind::Mean => {
            stats::summarize_pair(&SampleMean::from_values(&vc), &SampleMean::from_values(&vt))
        }
        MetricKind::Proportion => {
            let pc = proportion(&vc);
            let pt = proportion(&vt);
            r.proportions = two_proportion_test(&pc, &pt, opts.alpha).ok();
            if let Some((threshold, messages)) = &metric.guardrail {
                r.guardrail = guardrail(units, metric, messages, treatment, *threshold, opts.alpha);
            }
            stats::summarize_pair(&pc, &pt)
        }
        MetricKind::Ratio => match (Ratio::from_values(&vc, &dc), Ratio::from_values(&vt, &dt)) {
            (Ok(c), Ok(t)) => stats::summarize_pair(&c, &t),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
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
    if opts.cuped && metric.kind == MetricKind::Mean && !xc.is_empty() {
        match cuped(&vc, &xc, &vt, &xt, opts.alpha) {
            Ok(x) => r.cuped = Some(x),
            Err(e) => note("cuped", e),
        }
    }
    if let Some(planned) = opts.sequential_planned {
        let pair =
            sequential_test(&c, &t, EffectScale::Absolute, opts.alpha, planned).and_then(|a| {
                sequential_test(&c, &t, EffectScale::Relative, opts.alpha, planned).map(|rel| {
                    SequentialPair {
                        absolute: a,
                        relative: rel,
                    }
                })
            });
        match pair {
            Ok(x) => r.sequential = Some(x),
            Err(e) => note("sequential", e),
        }
    }
    if !errors.is_empty() {
        r.error = Some(errors.join("; "));
    }
    r
}

fn guardrail(
    units: &Units,
    metric: &Metric,
    messages: &[f64],
    treatment: &str,
    threshold: f64,
    alpha: f64,
) -> Option<Guardrail> {
    let (mut events, mut sent) = (0.0, 0.0);
    for i in (0..units.len()).filter(|&i| units.arm[i] == treatment) {
        events += metric.values[i];
        sent += messages[i];
    }
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

fn proportion(values: &[f64]) -> Proportion {
    let outcomes: Vec<bool> = values.iter().map(|v| *v > 0.0).collect();
    Proportion::from_outcomes(&outcomes)
}

fn cuped(
    vc: &[f64],
    xc: &[f64],
    vt: &[f64],
    xt: &[f64],
    alpha: f64,
) -> Result<CupedResult, stats::StatsError> {
    let rc = RegressionAdjusted::from_values(vc, xc)?;
    let rt = RegressionAdjusted::from_values(vt, xt)?;
    let adj = cuped_adjust(&rc, &rt)?;
    Ok(CupedResult {
        theta: adj.theta,
        adjusted: adj.adjusted,
        absolute: welch_test(&adj.control, &adj.treatment, alpha)?,
        relative: delta_method_test(&adj.control, &adj.treatment, alpha)?,
    })
}

/// Splits units by their segment value, in sorted order of values.
pub fn split_segments(dimension: &str, units: Units, values: &[String]) -> Vec<SegmentUnits> {
    let mut distinct: Vec<&String> = values.iter().collect();
    distinct.sort();
    distinct.dedup();
    distinct
        .into_iter()
        .map(|v| {
            let keep: Vec<usize> = (0..units.len()).filter(|&i| &values[i] == v).collect();
            SegmentUnits {
                segment: Segment {
                    dimension: dimension.to_string(),
                    value: v.clone(),
                },
                units: units.subset(&keep),
            }
        })
        .collect()
}

/// Carts mode: customers as units, overall and within each `segment_by` column.
pub fn analyze_carts(
    carts: &polars::prelude::DataFrame,
    config: &crate::config::FlowConfig,
    segment_by: &[String],
    opts: &LiftOptions,
) -> Result<LiftReport> {
    let mut segments = Vec::new();
    let (overall, _) = units::customer_units(carts, config, None)?;
    segments.push(SegmentUnits {
        segment: Segment {
            dimension: "all".into(),
            value: "all".into(),
        },
        units: overall,
    });
    for dim in segment_by {
        let (u, values) = units::customer_units(carts, config, Some(dim))?;
        segments.extend(split_segments(dim, u, &values));
    }
    let arms: Vec<String> = config.arms.iter().map(|a| a.name.clone()).collect();
    let weights: Vec<(String, f64)> = config
        .arms
        .iter()
        .map(|a| (a.name.clone(), a.weight))
        .collect();
    analyze(
        &segments,
        &arms,
        &config.holdout().name,
        Some(&weights),
        opts,
    )
}

/// A carts table (Parquet with `entry_id`), or events reconstructed on the fly.
pub fn load_carts(
    path: &std::path::Path,
    config: &crate::config::FlowConfig,
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
            return reader
                .finish()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
    }
    let table = crate::flow::load_events(&[path.to_path_buf()], &Default::default())?;
    Ok(crate::flow::reconstruct(&table, config)?.carts)
}

/// Table mode: an exported recipients table, A/B/n against one control.
pub fn run_table(
    path: &std::path::Path,
    arm_col: &str,
    control: &str,
    metrics: &[String],
    segment_by: &[String],
    covariate: Option<&str>,
    opts: &LiftOptions,
) -> Result<LiftReport> {
    use polars::prelude::*;
    let shown = path.display().to_string();
    let name = shown.to_ascii_lowercase();
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {shown}: {e}"))?;
    let df = if name.ends_with(".parquet") || name.ends_with(".pq") {
        ParquetReader::new(f)
            .finish()
            .map_err(|e| anyhow::anyhow!("{shown}: not a readable Parquet file: {e}"))?
    } else {
        CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(f)
            .finish()
            .map_err(|e| anyhow::anyhow!("{shown}: not a readable CSV file: {e}"))?
    };
    let all = units::table_units(&df, arm_col, metrics, covariate, &shown)?;
    let mut arms: Vec<String> = all.arm.clone();
    arms.sort();
    arms.dedup();
    if !arms.iter().any(|a| a == control) {
        bail!(
            "--control {control}: no unit has this arm in column `{arm_col}` (arms found: {})",
            arms.join(", ")
        );
    }
    let mut segments = vec![SegmentUnits {
        segment: Segment {
            dimension: "all".into(),
            value: "all".into(),
        },
        units: all.clone(),
    }];
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
        segments.extend(split_segments(dim, all.clone(), &values));
    }
    // An exported table does not say how it was split, so no SRM check here.
    analyze(&segments, &arms, control, None, opts)
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
    let (units, _) = units::customer_units(carts, config, None)?;
    let control = &config.holdout().name;
    let rows: Vec<usize> = (0..units.len())
        .filter(|&i| &units.arm[i] == control)
        .collect();
    if rows.len() < 2 {
        bail!("the holdout `{control}` has fewer than 2 customers; no baseline to plan from");
    }
    let held = units.subset(&rows);
    let metric = |name: &str| {
        held.metrics
            .iter()
            .find(|m| m.name == name)
            .expect("carts metrics")
    };
    let revenue = SampleMean::from_values(&metric("revenue_per_recipient").values);
    let conv = metric("conversion_rate");
    let conversions: f64 = conv.values.iter().sum();
    let entries: f64 = conv.denominators.as_ref().map_or(0.0, |d| d.iter().sum());
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
        daily_customers: units.len() as f64 / span_days.max(1.0),
    })
}
