//! The sufficient-statistics table: per segment × arm × metric, the few sums
//! every test in `stats` is computed from.
//!
//! Units (customers, or rows of an exported table) are reduced once into
//! [`Moments`]; from then on nothing looks at a unit again. Moments add field
//! by field, so a table computed in pieces (per partition, per day, by a
//! warehouse running `cartlift sql`) merges exactly into the same table. The
//! table's file form is documented in the README ("The statistics table").

use super::units::MetricKind;
use super::{Cap, QuantileTail, Segment, TailValue};
use crate::stats::{CentralMoments, Proportion, Ratio, RegressionAdjusted, SampleMean};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::collections::BinaryHeap;
use std::path::Path;

/// One metric as the statistics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub name: String,
    pub kind: MetricKind,
    /// Mean metrics with a pre-period covariate carry its sums (CUPED).
    pub covariate: bool,
    /// Guardrail metrics: the threshold on the treatment's rate per message;
    /// they carry the units' messages sent.
    pub guardrail: Option<f64>,
}

/// The most units one cell of a statistics table may hold: far above any
/// store's customers, low enough that every sum stays finite.
pub const MAX_UNITS: f64 = 1e12;

/// Sums over the units of one arm in one segment for one metric.
///
/// `y` is the unit's value (0/1 for proportions), `d` a ratio metric's
/// denominator, `x` the pre-period covariate, `messages` the messages sent
/// to the unit. Fields a metric does not use stay 0. Beside the raw power
/// sums (which add, and which SQL produces), `mean`, `m2` and `m3` are the
/// centred moments of `y` (Welford's update, Chan's merge: see
/// [`CentralMoments`]); every variance and skewness comes from those, so an
/// arm whose units all have the same value has exactly zero variance.
/// `nonzero` counts units with y ≠ 0 (buyers, for revenue).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
    pub sum_den: f64,
    pub sum_den_sq: f64,
    pub sum_num_den: f64,
    pub sum_cov: f64,
    pub sum_cov_sq: f64,
    pub sum_cov_num: f64,
    pub sum_messages: f64,
    pub sum_cube: f64,
    pub nonzero: f64,
    pub mean: f64,
    pub m2: f64,
    pub m3: f64,
}

impl Moments {
    /// Add one unit.
    pub fn push(&mut self, y: f64, den: f64, cov: f64, messages: f64) {
        let mut c = self.central();
        c.push(y);
        self.n += 1.0;
        self.sum += y;
        self.sum_sq += y * y;
        self.sum_cube += y * y * y;
        if y != 0.0 {
            self.nonzero += 1.0;
        }
        self.sum_den += den;
        self.sum_den_sq += den * den;
        self.sum_num_den += y * den;
        self.sum_cov += cov;
        self.sum_cov_sq += cov * cov;
        self.sum_cov_num += cov * y;
        self.sum_messages += messages;
        (self.mean, self.m2, self.m3) = (c.mean, c.m2, c.m3);
    }

    /// Add another partial aggregate of the same cell: sums add, centred
    /// moments merge by Chan's formula.
    pub fn merge(&mut self, o: &Moments) {
        let mut c = self.central();
        c.merge(&o.central());
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
        self.sum_cube += o.sum_cube;
        self.nonzero += o.nonzero;
        self.sum_den += o.sum_den;
        self.sum_den_sq += o.sum_den_sq;
        self.sum_num_den += o.sum_num_den;
        self.sum_cov += o.sum_cov;
        self.sum_cov_sq += o.sum_cov_sq;
        self.sum_cov_num += o.sum_cov_num;
        self.sum_messages += o.sum_messages;
        (self.mean, self.m2, self.m3) = (c.mean, c.m2, c.m3);
    }

    /// Whether these sums can come from units whose values lie within the
    /// README's ceilings (at most [`MAX_UNITS`] units, each value of `y`,
    /// the denominator, the covariate and the messages at most
    /// [`crate::validate::MAX_AMOUNT`] in magnitude), and agree with each
    /// other (no more buyers than units, non-negative variances, a mean that
    /// is the sum over `n`). Every statistic computed from sums that pass
    /// is finite; the error names the first column that fails.
    ///
    /// # Errors
    /// `(column, what was expected)`.
    pub fn check_plausible(&self) -> Result<(), (&'static str, String)> {
        let v = crate::validate::MAX_AMOUNT;
        let n = self.n;
        if !(0.0..=MAX_UNITS).contains(&n) || n.fract() != 0.0 {
            return Err((
                "n",
                format!("a whole number of units from 0 to {MAX_UNITS:e}"),
            ));
        }
        let within = |x: f64, bound: f64| x.is_finite() && x.abs() <= bound * (1.0 + 1e-9);
        let checks: [(&'static str, f64, f64, &str); 14] = [
            ("sum", self.sum, n * v, "n × 1e12"),
            ("sum_sq", self.sum_sq, n * v * v, "n × 1e24"),
            ("sum_cube", self.sum_cube, n * v * v * v, "n × 1e36"),
            ("sum_den", self.sum_den, n * v, "n × 1e12"),
            ("sum_den_sq", self.sum_den_sq, n * v * v, "n × 1e24"),
            ("sum_num_den", self.sum_num_den, n * v * v, "n × 1e24"),
            ("sum_cov", self.sum_cov, n * v, "n × 1e12"),
            ("sum_cov_sq", self.sum_cov_sq, n * v * v, "n × 1e24"),
            ("sum_cov_num", self.sum_cov_num, n * v * v, "n × 1e24"),
            ("sum_messages", self.sum_messages, n * v, "n × 1e12"),
            ("nonzero", self.nonzero, n, "at most n"),
            ("mean", self.mean, v, "at most 1e12 in magnitude"),
            ("m2", self.m2, n * 4.0 * v * v, "n × 4e24"),
            ("m3", self.m3, n * 8.0 * v * v * v, "n × 8e36"),
        ];
        for (column, x, bound, words) in checks {
            if !within(x, bound) {
                return Err((
                    column,
                    format!(
                        "{} where at most {words} is possible",
                        crate::validate::shown(x)
                    ),
                ));
            }
        }
        if self.sum_sq < 0.0 || self.m2 < 0.0 || self.nonzero < 0.0 || self.sum_den_sq < 0.0 {
            return Err(("m2", "a negative sum of squares".into()));
        }
        if self.m2 == 0.0 && self.m3 != 0.0 {
            return Err(("m3", "0 when `m2` is 0 (a constant arm has no skew)".into()));
        }
        let spread = n * (1.0 + (self.m2 / n.max(1.0)).sqrt() + self.mean.abs());
        if n > 0.0 && (self.mean * n - self.sum).abs() > 1e-6 * (self.sum.abs() + spread) {
            return Err((
                "mean",
                format!(
                    "the sum over n ({}); it is {}",
                    crate::validate::shown(self.sum / n),
                    crate::validate::shown(self.mean)
                ),
            ));
        }
        Ok(())
    }

    /// The centred moments of `y`.
    pub fn central(&self) -> CentralMoments {
        CentralMoments {
            n: self.n,
            mean: self.mean,
            m2: self.m2,
            m3: self.m3,
        }
    }

    pub fn sample_mean(&self) -> SampleMean {
        SampleMean {
            n: self.n,
            sum: self.sum,
            sum_sq: self.sum_sq,
        }
    }

    pub fn proportion(&self) -> Proportion {
        Proportion {
            n: self.n,
            successes: self.sum,
        }
    }

    pub fn ratio(&self) -> Ratio {
        Ratio {
            n: self.n,
            sum_num: self.sum,
            sum_num2: self.sum_sq,
            sum_den: self.sum_den,
            sum_den2: self.sum_den_sq,
            sum_num_den: self.sum_num_den,
        }
    }

    pub fn regression(&self) -> RegressionAdjusted {
        RegressionAdjusted {
            n: self.n,
            sum_y: self.sum,
            sum_y2: self.sum_sq,
            sum_x: self.sum_cov,
            sum_x2: self.sum_cov_sq,
            sum_xy: self.sum_cov_num,
        }
    }
}

/// Every arm's moments in one segment, indexed like [`StatsTable::metrics`].
#[derive(Debug, Clone)]
pub struct SegmentStats {
    pub segment: Segment,
    pub arms: BTreeMap<String, Vec<Moments>>,
}

impl SegmentStats {
    /// The arm's moments for metric `m` (all zero when the arm has no units here).
    pub fn get(&self, arm: &str, m: usize) -> Moments {
        self.arms
            .get(arm)
            .and_then(|v| v.get(m).copied())
            .unwrap_or_default()
    }
}

/// The whole reduction: the overall segment first, then each dimension's
/// values in sorted order.
#[derive(Debug, Clone)]
pub struct StatsTable {
    pub metrics: Vec<MetricSpec>,
    pub segments: Vec<SegmentStats>,
}

/// One unit as it enters the reduction: a value per metric, the ratio
/// denominator, the covariate and messages sent.
pub struct Unit<'a> {
    pub values: &'a [f64],
    pub den: f64,
    pub cov: f64,
    pub messages: f64,
}

/// Reduces units to a [`StatsTable`]. The units come in `chunks` fixed
/// pieces: `visit(c, emit)` calls `emit` once per unit of piece `c` with
/// (segment index, arm index, unit). Pieces are reduced in parallel and
/// merged in piece order, so the sums do not depend on the thread schedule.
/// With a quantile cap the units are visited twice (pooled values first).
pub fn reduce<V>(
    metrics: Vec<MetricSpec>,
    segments: Vec<Segment>,
    arms: &[String],
    cap: Option<Cap>,
    chunks: usize,
    visit: V,
) -> StatsTable
where
    V: Fn(usize, &mut dyn FnMut(usize, usize, &Unit)) + Sync,
{
    use rayon::prelude::*;
    let nm = metrics.len();
    let ns = segments.len();
    // Winsorizing bounds per (segment, metric); mean metrics only.
    let mut bounds = vec![(f64::NEG_INFINITY, f64::INFINITY); ns * nm];
    if let Some(cap) = cap {
        let means: Vec<usize> = (0..nm)
            .filter(|&m| metrics[m].kind == MetricKind::Mean)
            .collect();
        match cap {
            Cap::Values { .. } => {
                for s in 0..ns {
                    for &m in &means {
                        bounds[s * nm + m] = cap.bounds(&[]);
                    }
                }
            }
            Cap::Quantiles { lower, upper } => {
                // Units per segment first; then each piece keeps, per
                // (segment, metric, bound), only the values on the bound's
                // side of the distribution (about 0.1% of them for p99.9),
                // and the bound comes from the union of the pieces' tails:
                // the same number as from every pooled value, in a small
                // fraction of the memory.
                let counts: Vec<Vec<usize>> = (0..chunks)
                    .into_par_iter()
                    .map(|c| {
                        let mut n = vec![0usize; ns];
                        visit(c, &mut |s, _a, _u| n[s] += 1);
                        n
                    })
                    .collect();
                let n_of = |s: usize| counts.iter().map(|n| n[s]).sum::<usize>();
                let tails: Vec<[Option<QuantileTail>; 2]> = (0..ns)
                    .map(|s| {
                        let n = n_of(s);
                        [
                            lower.map(|p| QuantileTail::new(p, n)),
                            upper.map(|p| QuantileTail::new(p, n)),
                        ]
                    })
                    .collect();
                type Kept = Vec<[BinaryHeap<TailValue>; 2]>;
                let parts: Vec<Kept> = (0..chunks)
                    .into_par_iter()
                    .map(|c| {
                        let mut kept: Kept = (0..ns * nm).map(|_| Default::default()).collect();
                        visit(c, &mut |s, _a, u| {
                            for &m in &means {
                                for (side, tail) in tails[s].iter().enumerate() {
                                    if let Some(tail) = tail {
                                        tail.offer(&mut kept[s * nm + m][side], u.values[m]);
                                    }
                                }
                            }
                        });
                        kept
                    })
                    .collect();
                let cells: Vec<(usize, usize)> = (0..ns)
                    .flat_map(|s| means.iter().map(move |&m| (s, m)))
                    .collect();
                let found: Vec<(usize, (f64, f64))> = cells
                    .into_par_iter()
                    .map(|(s, m)| {
                        let k = s * nm + m;
                        let bound = |side: usize, none: f64| match &tails[s][side] {
                            None => none,
                            Some(tail) => {
                                let mut union: Vec<f64> = parts
                                    .iter()
                                    .flat_map(|p| p[k][side].iter().map(|t| t.v))
                                    .collect();
                                tail.quantile(&mut union)
                            }
                        };
                        (k, (bound(0, f64::NEG_INFINITY), bound(1, f64::INFINITY)))
                    })
                    .collect();
                for (k, b) in found {
                    bounds[k] = b;
                }
            }
        }
    }
    let na = arms.len();
    let kinds: Vec<(MetricKind, bool, bool)> = metrics
        .iter()
        .map(|m| (m.kind, m.covariate, m.guardrail.is_some()))
        .collect();
    let reduce_chunk = |c: usize| {
        let mut cells = vec![Moments::default(); ns * na * nm];
        visit(c, &mut |s, a, u| {
            let base = (s * na + a) * nm;
            for (m, &(kind, with_cov, with_messages)) in kinds.iter().enumerate() {
                let mut y = u.values[m];
                let mut den = 0.0;
                match kind {
                    MetricKind::Mean => {
                        let (lo, hi) = bounds[s * nm + m];
                        y = y.clamp(lo, hi);
                    }
                    MetricKind::Proportion => y = if y > 0.0 { 1.0 } else { 0.0 },
                    MetricKind::Ratio => den = u.den,
                }
                let cov = if with_cov { u.cov } else { 0.0 };
                let msg = if with_messages { u.messages } else { 0.0 };
                cells[base + m].push(y, den, cov, msg);
            }
        });
        cells
    };
    let parts: Vec<Vec<Moments>> = (0..chunks).into_par_iter().map(reduce_chunk).collect();
    let mut cells = vec![Moments::default(); ns * na * nm];
    for part in &parts {
        for (total, x) in cells.iter_mut().zip(part) {
            total.merge(x);
        }
    }
    let segments = segments
        .into_iter()
        .enumerate()
        .map(|(s, segment)| {
            let mut by_arm = BTreeMap::new();
            for (a, arm) in arms.iter().enumerate() {
                let base = (s * na + a) * nm;
                let row = cells[base..base + nm].to_vec();
                if row.iter().any(|c| c.n > 0.0) {
                    by_arm.insert(arm.clone(), row);
                }
            }
            SegmentStats {
                segment,
                arms: by_arm,
            }
        })
        .collect();
    StatsTable { metrics, segments }
}

/// The columns of the statistics table, in order.
pub const COLUMNS: [&str; 20] = [
    "dimension",
    "segment",
    "arm",
    "metric",
    "kind",
    "n",
    "sum",
    "sum_sq",
    "sum_den",
    "sum_den_sq",
    "sum_num_den",
    "sum_cov",
    "sum_cov_sq",
    "sum_cov_num",
    "sum_messages",
    "sum_cube",
    "nonzero",
    "mean",
    "m2",
    "m3",
];

/// Numeric columns of the table (after the five key columns).
const NUMS: usize = COLUMNS.len() - 5;

fn kind_name(k: MetricKind) -> &'static str {
    match k {
        MetricKind::Mean => "mean",
        MetricKind::Proportion => "proportion",
        MetricKind::Ratio => "ratio",
    }
}

impl StatsTable {
    /// Units per arm in the overall segment (the first metric's n).
    pub fn overall_counts(&self) -> BTreeMap<String, u64> {
        let overall = self
            .segments
            .iter()
            .find(|s| s.segment.dimension == "all")
            .or(self.segments.first());
        overall
            .map(|s| {
                s.arms
                    .iter()
                    .map(|(arm, v)| (arm.clone(), v.first().map_or(0.0, |m| m.n) as u64))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The position of a metric by name.
    pub fn metric(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.name == name)
    }

    /// Writes the table as CSV (or Parquet when the path ends in `.parquet`).
    /// Numbers are written in their shortest exact form, so reading the file
    /// back gives the same sums bit for bit.
    pub fn write(&self, path: &Path) -> Result<()> {
        let rows = self.rows();
        let is_parquet = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        if is_parquet {
            use polars::prelude::*;
            let text = |i: usize| -> Column {
                Column::new(
                    COLUMNS[i].into(),
                    rows.iter().map(|r| r.0[i].clone()).collect::<Vec<String>>(),
                )
            };
            let num = |j: usize| -> Column {
                Column::new(
                    COLUMNS[5 + j].into(),
                    rows.iter().map(|r| r.1[j]).collect::<Vec<Option<f64>>>(),
                )
            };
            let mut columns: Vec<Column> = (0..5).map(text).collect();
            columns.extend((0..NUMS).map(num));
            let mut df = DataFrame::new_infer_height(columns)
                .map_err(|e| anyhow!("building the statistics table: {e}"))?;
            return crate::output::write_file(path, |f| {
                ParquetWriter::new(f).finish(&mut df)?;
                Ok(())
            });
        }
        crate::output::write_file(path, |f| {
            let mut w = csv::Writer::from_writer(f);
            w.write_record(COLUMNS)?;
            for (text, nums) in &rows {
                let mut record: Vec<String> = text.to_vec();
                record.extend(
                    nums.iter()
                        .map(|v| v.map_or_else(String::new, |x| format!("{x:?}"))),
                );
                w.write_record(&record)?;
            }
            w.flush()?;
            Ok(())
        })
    }

    /// One row per segment × arm × metric: five text fields and the sums
    /// (`None` where the metric does not use the field).
    fn rows(&self) -> Vec<([String; 5], [Option<f64>; NUMS])> {
        let mut out = Vec::new();
        for seg in &self.segments {
            for (arm, moments) in &seg.arms {
                for (spec, m) in self.metrics.iter().zip(moments) {
                    let ratio = spec.kind == MetricKind::Ratio;
                    let cov = spec.covariate;
                    let msg = spec.guardrail.is_some();
                    let pick = |on: bool, x: f64| on.then_some(x);
                    out.push((
                        [
                            seg.segment.dimension.clone(),
                            seg.segment.value.clone(),
                            arm.clone(),
                            spec.name.clone(),
                            kind_name(spec.kind).to_string(),
                        ],
                        [
                            Some(m.n),
                            Some(m.sum),
                            Some(m.sum_sq),
                            pick(ratio, m.sum_den),
                            pick(ratio, m.sum_den_sq),
                            pick(ratio, m.sum_num_den),
                            pick(cov, m.sum_cov),
                            pick(cov, m.sum_cov_sq),
                            pick(cov, m.sum_cov_num),
                            pick(msg, m.sum_messages),
                            Some(m.sum_cube),
                            Some(m.nonzero),
                            Some(m.mean),
                            Some(m.m2),
                            Some(m.m3),
                        ],
                    ));
                }
            }
        }
        out
    }

    /// Reads a statistics table (CSV or Parquet), merging rows with the same
    /// (dimension, segment, arm, metric) by adding them: partial aggregates
    /// combine into the whole. `order` lists the dimensions to report, in
    /// order (all of them, sorted, when empty); `known_metrics` the metric
    /// order to follow where names match; `guardrail` gives a metric's
    /// threshold by name.
    pub fn read(
        path: &Path,
        order: &[String],
        known_metrics: &[&str],
        guardrail: impl Fn(&str) -> Option<f64>,
    ) -> Result<StatsTable> {
        let shown = path.display().to_string();
        let records = read_records(path)?;
        if records.is_empty() {
            bail!("{shown}: the statistics table has no rows");
        }
        let mut specs: Vec<MetricSpec> = Vec::new();
        let mut cells: BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, Moments>>> =
            BTreeMap::new();
        for (line, rec) in records {
            let at = |what: &str| format!("{shown}: line {line}: {what}");
            let kind = match rec.text[4].as_str() {
                "mean" => MetricKind::Mean,
                "proportion" => MetricKind::Proportion,
                "ratio" => MetricKind::Ratio,
                other => bail!(
                    "{}",
                    at(&format!(
                        "column `kind` has {other:?}; expected mean, proportion or ratio"
                    ))
                ),
            };
            let name = rec.text[3].clone();
            if name.is_empty() {
                bail!("{}", at("column `metric` is empty"));
            }
            let num = |j: usize| rec.nums[j];
            let need = |j: usize| -> Result<f64> {
                num(j).ok_or_else(|| {
                    anyhow!(
                        "{}",
                        at(&format!(
                            "column `{}` is empty; expected a number",
                            COLUMNS[5 + j]
                        ))
                    )
                })
            };
            let n = need(0)?;
            if n < 0.0 || n.fract() != 0.0 {
                bail!(
                    "{}",
                    at(&format!(
                        "column `n` has {n}; expected a whole number of units"
                    ))
                );
            }
            let ratio = kind == MetricKind::Ratio;
            let cov = num(6).is_some() && num(7).is_some() && num(8).is_some();
            let msg = num(9).is_some();
            let (sum, sum_sq, sum_cube) = (need(1)?, need(2)?, need(10)?);
            // Centred moments as written by cartlift, else from the power
            // sums (tables from SQL, which only adds).
            let central = match (num(12), num(13), num(14)) {
                (Some(mean), Some(m2), Some(m3)) => CentralMoments { n, mean, m2, m3 },
                _ => CentralMoments::from_power_sums(n, sum, sum_sq, sum_cube),
            };
            let m = Moments {
                n,
                sum,
                sum_sq,
                sum_cube,
                nonzero: need(11)?,
                mean: central.mean,
                m2: central.m2,
                m3: central.m3,
                sum_den: if ratio { need(3)? } else { 0.0 },
                sum_den_sq: if ratio { need(4)? } else { 0.0 },
                sum_num_den: if ratio { need(5)? } else { 0.0 },
                sum_cov: num(6).unwrap_or(0.0),
                sum_cov_sq: num(7).unwrap_or(0.0),
                sum_cov_num: num(8).unwrap_or(0.0),
                sum_messages: num(9).unwrap_or(0.0),
            };
            if let Err((column, what)) = m.check_plausible() {
                bail!("{}", at(&format!("column `{column}` has {what}")));
            }
            match specs.iter_mut().find(|s| s.name == name) {
                Some(s) => {
                    if s.kind != kind {
                        bail!(
                            "{}",
                            at(&format!(
                                "metric `{name}` is {} here but {} on an earlier line",
                                kind_name(kind),
                                kind_name(s.kind)
                            ))
                        );
                    }
                    s.covariate &= cov;
                }
                None => specs.push(MetricSpec {
                    name: name.clone(),
                    kind,
                    covariate: cov && kind == MetricKind::Mean,
                    guardrail: if msg { guardrail(&name) } else { None },
                }),
            }
            let seg = (rec.text[0].clone(), rec.text[1].clone());
            cells
                .entry(seg)
                .or_default()
                .entry(rec.text[2].clone())
                .or_default()
                .entry(name)
                .or_default()
                .merge(&m);
        }
        // Metric order: the known order first, then the rest by name.
        specs.sort_by_key(|s| {
            (
                known_metrics
                    .iter()
                    .position(|k| *k == s.name)
                    .unwrap_or(usize::MAX),
                s.name.clone(),
            )
        });
        let mut dims: Vec<String> = Vec::new();
        for (d, _) in cells.keys() {
            if d != "all" && !dims.contains(d) {
                dims.push(d.clone());
            }
        }
        if !cells.keys().any(|(d, _)| d == "all") {
            bail!("{shown}: no rows with dimension `all`; the overall segment is required");
        }
        let dims: Vec<String> = if order.is_empty() {
            dims
        } else {
            for d in order {
                if !dims.contains(d) {
                    bail!(
                        "--segment-by {d}: {shown} has no such dimension (dimensions: {})",
                        dims.join(", ")
                    );
                }
            }
            order.to_vec()
        };
        let mut segments = Vec::new();
        let mut push =
            |dim: &str, value: &str, arms: &BTreeMap<String, BTreeMap<String, Moments>>| {
                let arms = arms
                    .iter()
                    .map(|(arm, by_metric)| {
                        let row = specs
                            .iter()
                            .map(|s| by_metric.get(&s.name).copied().unwrap_or_default())
                            .collect();
                        (arm.clone(), row)
                    })
                    .collect();
                segments.push(SegmentStats {
                    segment: Segment {
                        dimension: dim.to_string(),
                        value: value.to_string(),
                    },
                    arms,
                });
            };
        for ((d, v), arms) in &cells {
            if d == "all" {
                push(d, v, arms);
            }
        }
        for dim in &dims {
            for ((d, v), arms) in &cells {
                if d == dim {
                    push(d, v, arms);
                }
            }
        }
        Ok(StatsTable {
            metrics: specs,
            segments,
        })
    }
}

struct Record {
    text: [String; 5],
    nums: [Option<f64>; NUMS],
}

/// Rows of a statistics file with their line numbers (row numbers for Parquet).
fn read_records(path: &Path) -> Result<Vec<(usize, Record)>> {
    let shown = path.display().to_string();
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    let mut out = Vec::new();
    if is_parquet {
        use polars::prelude::*;
        let f = std::fs::File::open(path).map_err(|e| anyhow!("cannot open {shown}: {e}"))?;
        let df = ParquetReader::new(f)
            .finish()
            .map_err(|e| anyhow!("{shown}: not a readable Parquet file: {e}"))?;
        // Every column of the table, cast to text (the keys) or numbers (the sums).
        let column = |name: &str, dtype: &DataType| -> Result<Column> {
            df.column(name)
                .map_err(|_| {
                    anyhow!(
                        "{shown}: no column `{name}`; expected {}",
                        COLUMNS.join(",")
                    )
                })?
                .cast(dtype)
                .map_err(|_| anyhow!("{shown}: column `{name}` cannot be read as {dtype}"))
        };
        let text = COLUMNS[..5]
            .iter()
            .map(|n| column(n, &DataType::String))
            .collect::<Result<Vec<_>>>()?;
        let nums = COLUMNS[5..]
            .iter()
            .map(|n| column(n, &DataType::Float64))
            .collect::<Result<Vec<_>>>()?;
        let text: Vec<&StringChunked> =
            text.iter().map(|c| c.str()).collect::<PolarsResult<_>>()?;
        let nums: Vec<&Float64Chunked> =
            nums.iter().map(|c| c.f64()).collect::<PolarsResult<_>>()?;
        for i in 0..df.height() {
            let t: [String; 5] =
                std::array::from_fn(|j| text[j].get(i).unwrap_or_default().to_string());
            let n: [Option<f64>; NUMS] = std::array::from_fn(|j| nums[j].get(i));
            out.push((i + 1, Record { text: t, nums: n }));
        }
        return Ok(out);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| anyhow!("cannot open {shown}: {e}"))?;
    let header = rdr
        .headers()
        .map_err(|e| anyhow!("{shown}: unreadable header: {e}"))?
        .clone();
    let mut idx = [0usize; COLUMNS.len()];
    for (k, name) in COLUMNS.iter().enumerate() {
        idx[k] = header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                anyhow!(
                    "{shown}: no column `{name}`; expected the header {}",
                    COLUMNS.join(",")
                )
            })?;
    }
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| anyhow!("{shown}: line {line}: {e}"))?;
        let field = |k: usize| rec.get(idx[k]).unwrap_or("").trim();
        let text: [String; 5] = std::array::from_fn(|k| field(k).to_string());
        let mut nums = [None; NUMS];
        for (j, slot) in nums.iter_mut().enumerate() {
            let v = field(5 + j);
            if v.is_empty() || v.eq_ignore_ascii_case("null") {
                continue;
            }
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => *slot = Some(x),
                _ => bail!(
                    "{shown}: line {line}: column `{}` has {v:?}; expected a number",
                    COLUMNS[5 + j]
                ),
            }
        }
        out.push((line, Record { text, nums }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_beyond_the_value_ceiling_are_implausible() {
        let mut m = Moments::default();
        for y in [0.0, 0.0, 25.0, 1e12, -3.5] {
            m.push(y, 1.0, 2.0, 3.0);
        }
        assert_eq!(m.check_plausible(), Ok(()));
        let constant = {
            let mut c = Moments::default();
            (0..4).for_each(|_| c.push(7.0, 0.0, 0.0, 0.0));
            c
        };
        assert_eq!(constant.check_plausible(), Ok(()));
        let bad = |f: &dyn Fn(&mut Moments)| {
            let mut b = m;
            f(&mut b);
            b.check_plausible().unwrap_err().0
        };
        assert_eq!(bad(&|b| b.n = 1e13), "n");
        assert_eq!(bad(&|b| b.n = 2.5), "n");
        assert_eq!(bad(&|b| b.sum_sq = 1e300), "sum_sq");
        assert_eq!(bad(&|b| b.m2 = f64::INFINITY), "m2");
        assert_eq!(bad(&|b| b.m2 = -1.0), "m2");
        assert_eq!(bad(&|b| b.nonzero = 6.0), "nonzero");
        assert_eq!(bad(&|b| b.mean = 1e11), "mean");
        assert_eq!(
            bad(&|b| {
                b.m2 = 0.0;
            }),
            "m3"
        );
    }

    fn spec(name: &str, kind: MetricKind) -> MetricSpec {
        MetricSpec {
            name: name.into(),
            kind,
            covariate: kind == MetricKind::Mean,
            guardrail: (kind == MetricKind::Proportion).then_some(0.01),
        }
    }

    fn table(units: &[(usize, f64, f64)]) -> StatsTable {
        // (arm, value, covariate); one segment.
        let arms = vec!["holdout".to_string(), "flow".to_string()];
        let seg = vec![Segment {
            dimension: "all".into(),
            value: "all".into(),
        }];
        let metrics = vec![
            spec("m", MetricKind::Mean),
            spec("p", MetricKind::Proportion),
            spec("r", MetricKind::Ratio),
        ];
        reduce(metrics, seg, &arms, None, 1, |_, f| {
            for &(a, v, x) in units {
                let values = [v, v, v];
                f(
                    0,
                    a,
                    &Unit {
                        values: &values,
                        den: 2.0,
                        cov: x,
                        messages: 3.0,
                    },
                );
            }
        })
    }

    /// Sums equal exactly; centred moments (Chan's merge against Welford's
    /// running update) to rounding.
    fn assert_same(got: &Moments, want: &Moments) {
        let exact = |m: &Moments| {
            [
                m.n,
                m.sum,
                m.sum_sq,
                m.sum_cube,
                m.nonzero,
                m.sum_den,
                m.sum_den_sq,
                m.sum_num_den,
                m.sum_cov,
                m.sum_cov_sq,
                m.sum_cov_num,
                m.sum_messages,
            ]
        };
        assert_eq!(exact(got), exact(want));
        for (g, w) in [(got.mean, want.mean), (got.m2, want.m2), (got.m3, want.m3)] {
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn constant_arms_have_exactly_zero_variance_however_merged() {
        let mut parts = Vec::new();
        for k in 0..7 {
            let mut m = Moments::default();
            for _ in 0..(k * 3 + 1) {
                m.push(19.99, 0.0, 0.0, 0.0);
            }
            parts.push(m);
        }
        let mut merged = Moments::default();
        for p in &parts {
            merged.merge(p);
        }
        assert_eq!((merged.m2, merged.m3), (0.0, 0.0));
        assert_eq!(merged.mean, 19.99);
        assert_eq!(merged.central().variance(), Ok(0.0));
    }

    #[test]
    fn pieces_merge_into_the_whole() {
        let units: Vec<(usize, f64, f64)> = (0..40)
            .map(|i| (i % 2, (i % 7) as f64 * 0.25, (i % 5) as f64))
            .collect();
        let whole = table(&units);
        let a = table(&units[..13]);
        let b = table(&units[13..]);
        for arm in ["holdout", "flow"] {
            for m in 0..3 {
                let mut merged = a.segments[0].get(arm, m);
                merged.merge(&b.segments[0].get(arm, m));
                assert_same(&merged, &whole.segments[0].get(arm, m));
            }
        }
        // Proportions are 0/1; messages only on the guardrail metric.
        let p = whole.segments[0].get("flow", 1);
        assert!(p.sum <= p.n);
        assert_eq!(whole.segments[0].get("flow", 0).sum_messages, 0.0);
        assert_eq!(p.sum_messages, 3.0 * p.n);
    }

    #[test]
    fn csv_round_trip_is_exact_and_partials_merge() {
        let units: Vec<(usize, f64, f64)> = (0..25)
            .map(|i| (i % 2, 1.0 / (i as f64 + 3.0), i as f64 * 0.1))
            .collect();
        let whole = table(&units);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.csv");
        whole.write(&p).unwrap();
        let back = StatsTable::read(&p, &[], &["m", "p", "r"], |_| Some(0.01)).unwrap();
        assert_eq!(back.metrics, whole.metrics);
        for arm in ["holdout", "flow"] {
            for m in 0..3 {
                assert_eq!(back.segments[0].get(arm, m), whole.segments[0].get(arm, m));
            }
        }
        // Two partial files concatenated read as their merge.
        let (a, b) = (table(&units[..9]), table(&units[9..]));
        let (pa, pb) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        a.write(&pa).unwrap();
        b.write(&pb).unwrap();
        let body_b: String = std::fs::read_to_string(&pb)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect();
        let both = dir.path().join("both.csv");
        std::fs::write(&both, std::fs::read_to_string(&pa).unwrap() + &body_b).unwrap();
        let merged = StatsTable::read(&both, &[], &["m", "p", "r"], |_| Some(0.01)).unwrap();
        for arm in ["holdout", "flow"] {
            for m in 0..3 {
                let mut expect = a.segments[0].get(arm, m);
                expect.merge(&b.segments[0].get(arm, m));
                assert_same(&merged.segments[0].get(arm, m), &expect);
            }
        }
        // Parquet round trip too.
        let pq = dir.path().join("stats.parquet");
        whole.write(&pq).unwrap();
        let back = StatsTable::read(&pq, &[], &["m", "p", "r"], |_| Some(0.01)).unwrap();
        assert_eq!(
            back.segments[0].get("flow", 2),
            whole.segments[0].get("flow", 2)
        );
    }

    #[test]
    fn bad_files_name_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        let header = COLUMNS.join(",");
        std::fs::write(
            &p,
            format!("{header}\nall,all,flow,m,mean,10,x,1,,,,,,,,,,,,\n"),
        )
        .unwrap();
        let e = StatsTable::read(&p, &[], &[], |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("`sum`"), "{e}");
        std::fs::write(
            &p,
            format!("{header}\nall,all,flow,m,median,10,1,1,,,,,,,,,,,,\n"),
        )
        .unwrap();
        let e = StatsTable::read(&p, &[], &[], |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("kind") && e.contains("median"), "{e}");
        std::fs::write(
            &p,
            format!("{header}\nall,all,flow,r,ratio,10,1,1,,,,,,,,1,1,,,\n"),
        )
        .unwrap();
        let e = StatsTable::read(&p, &[], &[], |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sum_den"), "{e}");
        std::fs::write(&p, "dimension,segment\nall,all\n").unwrap();
        let e = StatsTable::read(&p, &[], &[], |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column `arm`"), "{e}");
    }
}
