//! What the best policy would earn, and what a flow file earns, under the
//! simulator's true model.
//!
//! **Oracle.** The flow's *treatment template* is its first treatment arm
//! (in file order) with an incentive: its steps, and its first incentive
//! step's kind and value. The incentive-threshold family offers that
//! incentive to carts worth at least a threshold, whatever the customer's
//! status (`min_cart_value = threshold`, no `max_cart_value`, no
//! `customer_status`), and nothing else changes. Whether an entry is offered
//! the incentive depends on the threshold only through its cart value, so two
//! potential outcomes per entry (incentive for every cart, for none) give the
//! exact value of every threshold. The grid: "always" (0), every $5 up to
//! $500, the flow's band edges, and "never".
//!
//! **Evaluation.** The expected net contribution per entry of the policy a
//! flow file deploys: every arm's potential outcomes over the same simulated
//! entries, weighted by the arm's weight, the holdout included at its weight
//! (it is part of what the flow deploys). Deterministic given the seed; with
//! the seed of an earlier run the entries are the same shoppers and carts
//! (common random numbers), so two flows are compared on the same population.

use super::params::Effect;
use super::{context, plan_customers, simulate_customer, CustomerSim, SimParams};
use crate::config::{FlowConfig, IncentiveKind, Step};
use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// Threshold grid spacing and end (currency units).
const GRID_STEP: f64 = 5.0;
const GRID_END: f64 = 500.0;

/// The treatment template: one arm's steps with its incentive offered to
/// every cart (`always`) and to none (`never`).
pub(super) struct Template {
    arm: String,
    step: u32,
    incentive: String,
    pub(super) always: Vec<Step>,
    pub(super) never: Vec<Step>,
}

impl Template {
    /// The first treatment arm with an incentive step, if any.
    pub(super) fn of(config: &FlowConfig) -> Option<Template> {
        let arm = config
            .arms
            .iter()
            .filter(|a| !a.holdout)
            .find(|a| a.steps.iter().any(|s| s.incentive.is_some()))?;
        let k = arm.steps.iter().position(|s| s.incentive.is_some())?;
        let inc = arm.steps[k].incentive.as_ref()?;
        let mut always = arm.steps.clone();
        if let Some(i) = always[k].incentive.as_mut() {
            i.min_cart_value = None;
            i.max_cart_value = None;
            i.customer_status = None;
        }
        let mut never = arm.steps.clone();
        never[k].incentive = None;
        Some(Template {
            arm: arm.name.clone(),
            step: arm.steps[k].step,
            incentive: format!("{} {}", kind_name(inc.kind), inc.value),
            always,
            never,
        })
    }

    /// The best threshold over the grid, from each entry's (cart value,
    /// contribution with the incentive, contribution without it, effect
    /// group). With heterogeneous effects the oracle knows each entry's
    /// group and picks the best threshold per group; `curve` stays the one
    /// threshold for everyone.
    pub(super) fn oracle(
        &self,
        config: &FlowConfig,
        entries: &[(f64, f64, f64, u64)],
        holdout_weight: f64,
        holdout_per_entry: f64,
        effects: &[Effect],
    ) -> Oracle {
        let all: Vec<(f64, f64, f64)> = entries.iter().map(|e| (e.0, e.1, e.2)).collect();
        let (curve, pooled) = self.best(config, &all);
        let mut by_group: BTreeMap<u64, Vec<(f64, f64, f64)>> = BTreeMap::new();
        for e in entries {
            by_group.entry(e.3).or_default().push((e.0, e.1, e.2));
        }
        let n = entries.len().max(1) as f64;
        let (policy, threshold, net, groups) = if by_group.len() <= 1 {
            (
                threshold_label(pooled.threshold),
                pooled.threshold,
                pooled.net_contribution_per_entry,
                Vec::new(),
            )
        } else {
            let groups: Vec<OracleGroup> = by_group
                .iter()
                .map(|(&bits, rows)| {
                    let (_, best) = self.best(config, rows);
                    OracleGroup {
                        effects: (0..effects.len()).filter(|i| bits >> i & 1 == 1).collect(),
                        when: describe_group(effects, bits),
                        entries: rows.len() as u64,
                        policy: threshold_label(best.threshold),
                        threshold: best.threshold,
                        net_contribution_per_entry: best.net_contribution_per_entry,
                    }
                })
                .collect();
            let net = groups
                .iter()
                .map(|g| g.net_contribution_per_entry * g.entries as f64)
                .sum::<f64>()
                / n;
            (
                "per effect group (see groups)".to_string(),
                None,
                net,
                groups,
            )
        };
        Oracle {
            template: self.arm.clone(),
            step: self.step,
            incentive: self.incentive.clone(),
            policy,
            threshold,
            net_contribution_per_entry: net,
            holdout_weight,
            net_contribution_per_entry_with_holdout: (1.0 - holdout_weight) * net
                + holdout_weight * holdout_per_entry,
            entries: entries.len() as u64,
            curve,
            groups,
        }
    }

    /// Every threshold's value on these entries, and the best of them.
    fn best(
        &self,
        config: &FlowConfig,
        entries: &[(f64, f64, f64)],
    ) -> (Vec<OraclePoint>, OraclePoint) {
        let mut sorted: Vec<(f64, f64, f64)> = entries.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = sorted.len().max(1) as f64;
        // prefix[i] = (Σ with, Σ without) over the i cheapest carts.
        let mut prefix = vec![(0.0, 0.0); sorted.len() + 1];
        for (i, e) in sorted.iter().enumerate() {
            prefix[i + 1] = (prefix[i].0 + e.1, prefix[i].1 + e.2);
        }
        let total_with = prefix[sorted.len()].0;
        let never = prefix[sorted.len()].1 / n;
        let value_at = |t: f64| {
            let below = sorted.partition_point(|e| e.0 < t);
            (prefix[below].1 + total_with - prefix[below].0) / n
        };
        let mut thresholds: Vec<f64> = (0..=(GRID_END / GRID_STEP) as usize)
            .map(|i| i as f64 * GRID_STEP)
            .chain(config.segments.cart_value_bands.iter().copied())
            .filter(|t| *t >= 0.0)
            .collect();
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
        let mut curve: Vec<OraclePoint> = thresholds
            .iter()
            .map(|&t| OraclePoint {
                threshold: Some(t),
                net_contribution_per_entry: value_at(t),
            })
            .collect();
        curve.push(OraclePoint {
            threshold: None,
            net_contribution_per_entry: never,
        });
        // The highest value; among equals, the one offering least (later in the curve).
        let best = curve
            .iter()
            .max_by(|a, b| {
                a.net_contribution_per_entry
                    .total_cmp(&b.net_contribution_per_entry)
            })
            .expect("the curve has points")
            .clone();
        (curve, best)
    }
}

/// The conditions of the effects in a group, and "no effect" for none.
fn describe_group(effects: &[Effect], bits: u64) -> String {
    let parts: Vec<String> = (0..effects.len())
        .filter(|i| bits >> i & 1 == 1)
        .map(|i| format!("effect {i}: {}", effects[i].when.describe()))
        .collect();
    if parts.is_empty() {
        "no effect".into()
    } else {
        parts.join("; ")
    }
}

fn kind_name(kind: IncentiveKind) -> &'static str {
    match kind {
        IncentiveKind::PercentOff => "percent_off",
        IncentiveKind::FixedOff => "fixed_off",
        IncentiveKind::FreeShipping => "free_shipping",
    }
}

fn threshold_label(t: Option<f64>) -> String {
    match t {
        None => "never".into(),
        Some(t) if t <= 0.0 => "always".into(),
        Some(t) => format!("cart value >= {t}"),
    }
}

/// The best policy in the incentive-threshold family, under the true model.
#[derive(Debug, Clone, Serialize)]
pub struct Oracle {
    /// The arm whose steps and incentive are the template.
    pub template: String,
    /// The step whose incentive is offered or not.
    pub step: u32,
    pub incentive: String,
    /// `always`, `never` or `cart value >= T`.
    pub policy: String,
    /// The best `min_cart_value`: 0 for always, null for never.
    pub threshold: Option<f64>,
    /// Expected net contribution per entry with the policy applied to every entry.
    pub net_contribution_per_entry: f64,
    /// The flow's holdout weight.
    pub holdout_weight: f64,
    /// The same policy beside the flow's holdout at its weight: the best a
    /// flow that keeps the holdout can deploy.
    pub net_contribution_per_entry_with_holdout: f64,
    pub entries: u64,
    /// Every threshold of the grid, then never (one threshold for everyone).
    pub curve: Vec<OraclePoint>,
    /// With heterogeneous effects: the best threshold per effect group
    /// (entries covered by the same effects); `net_contribution_per_entry`
    /// is theirs combined. Empty without effects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<OracleGroup>,
}

/// The oracle's policy for the entries one set of effects covers.
#[derive(Debug, Clone, Serialize)]
pub struct OracleGroup {
    /// Indices into `[[simulation.effects]]`.
    pub effects: Vec<usize>,
    pub when: String,
    pub entries: u64,
    pub policy: String,
    pub threshold: Option<f64>,
    pub net_contribution_per_entry: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OraclePoint {
    /// `min_cart_value`; null for never.
    pub threshold: Option<f64>,
    pub net_contribution_per_entry: f64,
}

/// What a flow file earns under the true model (see the module docs).
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub seed: u64,
    pub carts: u64,
    pub entries: u64,
    /// Per arm: weight and expected net contribution per entry.
    pub arms: BTreeMap<String, EvaluatedArm>,
    /// Σ over arms of weight × the arm's net contribution per entry.
    pub net_contribution_per_entry: f64,
    pub oracle: Option<Oracle>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluatedArm {
    pub weight: f64,
    pub holdout: bool,
    pub net_contribution_per_entry: f64,
}

/// The expected net contribution per entry of the policy `config` deploys,
/// over `carts` simulated carts (potential outcomes only; no events).
pub fn evaluate(config: &FlowConfig, carts: usize, seed: u64) -> Result<Evaluation> {
    let p = SimParams::from_table(config.simulation.as_ref())?;
    let ctx = context(config, &p, false)?;
    let results: Vec<CustomerSim> = plan_customers(carts, seed, &p)
        .par_iter()
        .map(|&(index, n_carts, first_cart)| {
            simulate_customer(&ctx, seed, index, n_carts, first_cart)
        })
        .collect();
    let n_arms = config.arms.len();
    let mut sums = vec![0.0f64; n_arms];
    let mut entries = 0u64;
    let mut template_entries = Vec::new();
    for e in results.iter().flat_map(|r| r.entries.iter()) {
        entries += 1;
        for (a, po) in e.po.iter().enumerate() {
            sums[a] += po.3;
        }
        template_entries.extend(e.template);
    }
    let per = |x: f64| {
        if entries == 0 {
            0.0
        } else {
            x / entries as f64
        }
    };
    let arms: BTreeMap<String, EvaluatedArm> = config
        .arms
        .iter()
        .zip(&sums)
        .map(|(arm, &sum)| {
            (
                arm.name.clone(),
                EvaluatedArm {
                    weight: arm.weight,
                    holdout: arm.holdout,
                    net_contribution_per_entry: per(sum),
                },
            )
        })
        .collect();
    let net = arms
        .values()
        .map(|a| a.weight * a.net_contribution_per_entry)
        .sum();
    let holdout = config.holdout();
    let oracle = ctx.template.as_ref().map(|t| {
        t.oracle(
            config,
            &template_entries,
            holdout.weight,
            arms[&holdout.name].net_contribution_per_entry,
            &p.effects,
        )
    });
    Ok(Evaluation {
        seed,
        carts: carts as u64,
        entries,
        arms,
        net_contribution_per_entry: net,
        oracle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SAMPLE;

    #[test]
    fn oracle_reads_every_threshold_from_two_outcomes() {
        let config = FlowConfig::parse(SAMPLE).unwrap();
        let t = Template::of(&config).unwrap();
        assert_eq!(t.arm, "flow");
        assert!(t.always[3]
            .incentive
            .as_ref()
            .unwrap()
            .min_cart_value
            .is_none());
        assert!(t.never[3].incentive.is_none());
        // The incentive pays on carts of 100 and more and loses below.
        let entries = [
            (20.0, 1.0, 2.0),
            (60.0, 3.0, 4.0),
            (100.0, 9.0, 5.0),
            (150.0, 8.0, 6.0),
        ];
        let entries = entries.map(|(v, w, wo)| (v, w, wo, 0));
        let o = t.oracle(&config, &entries, 0.1, 1.0, &[]);
        assert_eq!(o.threshold, Some(100.0));
        assert!((o.net_contribution_per_entry - (2.0 + 4.0 + 9.0 + 8.0) / 4.0).abs() < 1e-12);
        assert!((o.net_contribution_per_entry_with_holdout - (0.9 * 5.75 + 0.1)).abs() < 1e-12);
        let never = o.curve.last().unwrap();
        assert_eq!(never.threshold, None);
        assert!((never.net_contribution_per_entry - 17.0 / 4.0).abs() < 1e-12);
        assert!((o.curve[0].net_contribution_per_entry - 21.0 / 4.0).abs() < 1e-12);
    }
}
