//! From segments to a recommendation: each segment's tested treatments and
//! baseline, every expressible policy's value, the curve, the rule's test,
//! the choice and the exploration arm.
//!
//! A policy's expected net contribution per entry is
//! `Σ_s w_s · NC_s(π(s))`: `w_s` the segment's share of the measured
//! entries, `NC_s(v)` the net contribution per entry of the customers who
//! got treatment `v` in segment `s` (any arm that gave it). Its gain over
//! another policy sums only the segments where the two differ. The rule
//! ([`super::rule`]) tests each policy's gain over the *baseline policy*,
//! which gives every segment its cheapest tested treatment ([`baseline`]).

use super::cells::{Cell, Reduced, C};
use super::estimate::{combine, Estimate, Term};
use super::segment;
use super::treatment::{self, Candidate};
use super::{
    rule, ArmReport, OptionReport, PolicyOptions, PolicyReport, Segment, SegmentReport, Variant,
    NOT_MODELLED,
};
use crate::config::{Arm, FlowConfig, Step};
use anyhow::{bail, Result};
use serde::Serialize;

/// A point of the incentive-threshold curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// The arm whose steps and incentive are varied.
    pub template: String,
    /// `min_cart_value`: 0 offers it to every cart, null to none.
    pub threshold: Option<f64>,
    pub policy: String,
    pub net_contribution_per_entry: Estimate,
    pub gain_vs_current: Estimate,
    pub gain_vs_baseline: Estimate,
    /// Whether the rule lets the recommendation be this policy.
    pub allowed: bool,
    /// Why it could not be valued (a segment no arm gave this treatment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    pub policy: String,
    /// The tested arm it is, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    pub net_contribution_per_entry: Estimate,
    pub gain_vs_current: Estimate,
    /// The rule's test: over the baseline policy.
    pub gain_vs_baseline: Estimate,
    pub discount_per_entry: f64,
    pub unsubscribe_rate_per_message: f64,
    pub complaint_rate_per_message: f64,
    pub guardrail_breaches: Vec<String>,
    pub allowed: bool,
    /// Why the rule does not allow it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub policy: String,
    /// The arm name written to the next flow.
    pub arm: String,
    pub steps: Vec<Step>,
    /// Whether it differs from the current arm in any segment.
    pub changed: bool,
    pub changed_segments: Vec<String>,
    pub net_contribution_per_entry: Estimate,
    pub gain_vs_current: Estimate,
    pub gain_vs_baseline: Estimate,
    pub discount_per_entry: f64,
    pub unsubscribe_rate_per_message: f64,
    pub complaint_rate_per_message: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exploration {
    pub policy: String,
    pub arm: String,
    pub weight: f64,
    pub steps: Vec<Step>,
    /// Its gain over the recommendation: the policy with the highest upper bound.
    pub gain_vs_recommended: Estimate,
}

/// The segments (band × status seen), with their tested treatments and the gate.
pub(crate) fn segments(
    config: &FlowConfig,
    reduced: &Reduced,
    current: &Arm,
    alpha: f64,
) -> Vec<Segment> {
    let holdout = &config.holdout().name;
    let mut out = Vec::new();
    for (b, band) in treatment::bands(&config.segments).into_iter().enumerate() {
        for status in &reduced.statuses {
            let cell_of = |arm: &str| {
                reduced
                    .cells
                    .get(&(b, status.clone(), arm.to_string()))
                    .cloned()
                    .unwrap_or_default()
            };
            let mut variants: Vec<Variant> = Vec::new();
            let mut arms = Vec::new();
            for arm in config.arms.iter().filter(|a| !a.holdout) {
                let steps = treatment::treatment_in(&arm.steps, &band, status);
                let cell = cell_of(&arm.name);
                match variants.iter_mut().find(|v| v.steps == steps) {
                    Some(v) => {
                        v.arms.push(arm.name.clone());
                        v.cell.merge(&cell);
                    }
                    None => variants.push(Variant {
                        steps,
                        arms: vec![arm.name.clone()],
                        cell: cell.clone(),
                    }),
                }
                arms.push((arm.name.clone(), cell));
            }
            let current = variants
                .iter()
                .position(|v| v.arms.contains(&current.name))
                .expect("the current arm is a treatment arm");
            let baseline = baseline(&variants, current);
            let measured = variants[baseline].cell.n >= 2.0;
            let gains: Vec<Option<Estimate>> = variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (i != baseline && measured && v.cell.n >= 2.0)
                        .then(|| segment::gain(&v.cell, &variants[baseline].cell, alpha))
                })
                .collect();
            let supported = gains
                .iter()
                .map(|g| g.as_ref().and_then(|g| g.lower()).is_some_and(|l| l > 0.0))
                .collect();
            out.push(Segment {
                band: band.clone(),
                status: status.clone(),
                holdout: cell_of(holdout),
                arms,
                variants,
                current,
                baseline,
                measured,
                gains,
                supported,
            });
        }
    }
    out
}

/// The treatment a segment keeps without evidence: the cheapest tested one
/// (no incentive before any, then less discount paid per entry), the
/// current arm's among equals, then fewer message costs. Only the current
/// treatment and those with at least 2 customers qualify, so a segment
/// without data keeps the current treatment.
fn baseline(variants: &[Variant], current: usize) -> usize {
    let cost = |i: usize| {
        let v = &variants[i];
        let offers = v.steps.iter().any(|s| s.incentive.is_some());
        (
            offers,
            if offers {
                v.cell.per_entry(C::Discount)
            } else {
                0.0
            },
            i != current,
            v.cell.per_entry(C::MessageCost),
        )
    };
    (0..variants.len())
        .filter(|&i| i == current || variants[i].cell.n >= 2.0)
        .min_by(|&a, &b| {
            let (x, y) = (cost(a), cost(b));
            x.0.cmp(&y.0)
                .then(x.1.total_cmp(&y.1))
                .then(x.2.cmp(&y.2))
                .then(x.3.total_cmp(&y.3))
        })
        .unwrap_or(current)
}

/// One policy, valued.
struct Valued {
    candidate: Candidate,
    /// Per segment: the treatment it gives, and which tested variant that is.
    treatments: Vec<Vec<Step>>,
    picks: Vec<Option<usize>>,
    /// Why it cannot be valued: a measured segment without data for its treatment.
    untested: Option<String>,
    value: Estimate,
    /// Over the current arm, and over the baseline policy (the rule's test).
    gain: Estimate,
    gain_vs_baseline: Estimate,
    discount: f64,
    unsubscribe: f64,
    complaint: f64,
    breaches: Vec<String>,
    /// Why the rule does not allow it.
    why_not: Option<String>,
}

impl Valued {
    fn allowed(&self) -> bool {
        self.untested.is_none() && self.why_not.is_none()
    }
}

/// Σ over measured segments of weight × a cell statistic, with its interval.
fn weighted<'a>(
    segments: &[Segment],
    weights: &[f64],
    cell: impl Fn(usize) -> Option<&'a Cell>,
    alpha: f64,
) -> Estimate {
    let mut point = 0.0;
    let mut terms = Vec::new();
    let mut problem = None;
    for (i, w) in weights.iter().enumerate() {
        if *w == 0.0 {
            continue;
        }
        let Some(c) = cell(i) else { continue };
        point += w * c.per_entry(C::NetContribution);
        match c.ratio(C::NetContribution) {
            Ok(s) => terms.push(Term::new(*w, s)),
            Err(e) => problem = Some(format!("segment {}: {e}", segments[i].label())),
        }
    }
    match problem {
        Some(why) => Estimate::no_interval(point, why),
        None => combine(point, &terms, alpha),
    }
}

/// Gain of picks `a` over picks `b` (variant indices per segment).
fn gain_between(
    segments: &[Segment],
    weights: &[f64],
    a: &[Option<usize>],
    b: &[Option<usize>],
    alpha: f64,
) -> Estimate {
    let mut point = 0.0;
    let mut terms = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let (Some(x), Some(y)) = (a[i], b[i]) else {
            continue;
        };
        if x == y || weights[i] == 0.0 {
            continue;
        }
        let (cx, cy) = (&s.variants[x].cell, &s.variants[y].cell);
        let w = weights[i];
        point += w * (cx.per_entry(C::NetContribution) - cy.per_entry(C::NetContribution));
        match (cx.ratio(C::NetContribution), cy.ratio(C::NetContribution)) {
            (Ok(p), Ok(q)) => {
                terms.push(Term::new(w, p));
                terms.push(Term::new(-w, q));
            }
            (Err(e), _) | (_, Err(e)) => {
                return Estimate::no_interval(point, format!("segment {}: {e}", s.label()))
            }
        }
    }
    if terms.is_empty() {
        return Estimate::exact(0.0);
    }
    combine(point, &terms, alpha)
}

fn value(
    candidate: Candidate,
    segments: &[Segment],
    weights: &[f64],
    config: &FlowConfig,
    alpha: f64,
) -> Valued {
    let treatments: Vec<Vec<Step>> = segments
        .iter()
        .map(|s| treatment::treatment_in(&candidate.steps, &s.band, &s.status))
        .collect();
    let picks: Vec<Option<usize>> = segments
        .iter()
        .zip(&treatments)
        .map(|(s, t)| s.variants.iter().position(|v| &v.steps == t))
        .collect();
    let mut untested = None;
    let mut why_not = None;
    for (i, s) in segments.iter().enumerate() {
        let pick = picks[i];
        if s.measured && pick.is_none_or(|p| s.variants[p].cell.n < 2.0) {
            untested.get_or_insert_with(|| {
                format!(
                    "segment {}: no tested arm gave at least 2 customers this treatment",
                    s.label()
                )
            });
        }
        if !s.measured && pick != Some(s.baseline) {
            why_not.get_or_insert_with(|| {
                format!(
                    "segment {}: no data to support a change from the current treatment",
                    s.label()
                )
            });
        }
    }
    let currents: Vec<Option<usize>> = segments.iter().map(|s| Some(s.current)).collect();
    let baselines: Vec<Option<usize>> = segments.iter().map(|s| Some(s.baseline)).collect();
    let (value, gain, gain_vs_baseline) = match &untested {
        Some(why) => (
            Estimate::no_interval(0.0, why.clone()),
            Estimate::no_interval(0.0, why.clone()),
            Estimate::no_interval(0.0, why.clone()),
        ),
        None => (
            weighted(
                segments,
                weights,
                |i| picks[i].map(|p| &segments[i].variants[p].cell),
                alpha,
            ),
            gain_between(segments, weights, &picks, &currents, alpha),
            gain_between(segments, weights, &picks, &baselines, alpha),
        ),
    };
    let is_baseline = picks == baselines;
    if untested.is_none() && !is_baseline && !gain_vs_baseline.lower().is_some_and(|l| l > 0.0) {
        why_not.get_or_insert_with(|| {
            let level = (1.0 - alpha) * 100.0;
            match gain_vs_baseline.lower() {
                Some(l) => format!(
                    "its gain over the baseline policy is not shown: the lower {level}% bound is {l:.4} per entry"
                ),
                None => format!(
                    "its gain over the baseline policy has no interval: {}",
                    gain_vs_baseline.error.as_deref().unwrap_or("unknown")
                ),
            }
        });
    }
    let mean_of = |c: C| -> f64 {
        segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| picks[i].map(|p| weights[i] * s.variants[p].cell.per_entry(c)))
            .sum()
    };
    let messages = mean_of(C::Messages);
    let rate = |c: C| {
        if messages > 0.0 {
            mean_of(c) / messages
        } else {
            0.0
        }
    };
    let (unsubscribe, complaint) = (rate(C::Unsubscribes), rate(C::Complaints));
    let g = &config.guardrails;
    let mut breaches = Vec::new();
    if unsubscribe > g.max_unsubscribe_rate {
        breaches.push(format!(
            "unsubscribe rate {unsubscribe:.5} per message is above guardrails.max_unsubscribe_rate {}",
            g.max_unsubscribe_rate
        ));
    }
    if complaint > g.max_complaint_rate {
        breaches.push(format!(
            "complaint rate {complaint:.5} per message is above guardrails.max_complaint_rate {}",
            g.max_complaint_rate
        ));
    }
    Valued {
        discount: mean_of(C::Discount),
        candidate,
        treatments,
        picks,
        untested,
        value,
        gain,
        gain_vs_baseline,
        unsubscribe,
        complaint,
        breaches,
        why_not,
    }
}

/// Values every policy, applies the rule, and assembles the report.
pub(crate) fn decide(
    config: &FlowConfig,
    current: &Arm,
    segments: &[Segment],
    reduced: &Reduced,
    opts: &PolicyOptions,
    mut warnings: Vec<String>,
) -> Result<PolicyReport> {
    let alpha = opts.alpha;
    let measured_entries: f64 = segments
        .iter()
        .filter(|s| s.measured)
        .map(|s| s.entries())
        .sum();
    let weights: Vec<f64> = segments
        .iter()
        .map(|s| {
            if s.measured {
                s.entries() / measured_entries
            } else {
                0.0
            }
        })
        .collect();
    let valued: Vec<Valued> =
        treatment::candidates(&config.arms, &config.segments, &reduced.statuses)
            .into_iter()
            .map(|c| value(c, segments, &weights, config, alpha))
            .collect();
    let curve: Vec<CurvePoint> = valued
        .iter()
        .filter_map(|v| {
            let (template, threshold) = v.candidate.curve.clone()?;
            Some(CurvePoint {
                template,
                threshold,
                policy: v.candidate.label.clone(),
                net_contribution_per_entry: v.value.clone(),
                gain_vs_current: v.gain.clone(),
                gain_vs_baseline: v.gain_vs_baseline.clone(),
                allowed: v.allowed(),
                error: v.untested.clone(),
            })
        })
        .collect();
    // Distinct policies (the same treatment in every segment), first kept.
    let mut distinct: Vec<Valued> = Vec::new();
    let mut untested = 0;
    for v in valued {
        if v.untested.is_some() {
            untested += 1;
        } else if !distinct.iter().any(|d| d.treatments == v.treatments) {
            distinct.push(v);
        }
    }
    if untested > 0 {
        warnings.push(format!(
            "{untested} expressible policies were not valued: some segment's treatment under them was not tested"
        ));
    }
    let best_of = |ok: &dyn Fn(&Valued) -> bool| {
        distinct
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, v)| ok(v) && v.breaches.is_empty())
            .max_by(|(_, a), (_, b)| {
                a.value
                    .estimate
                    .total_cmp(&b.value.estimate)
                    .then(b.discount.total_cmp(&a.discount))
            })
            .map(|(i, _)| i)
    };
    let mut best = best_of(&|v| v.allowed());
    if best.is_none() {
        // The baseline mixes treatments no single arm can express, or
        // breaches a guardrail: keep what runs today.
        best = best_of(&|v| v.candidate.arm.as_deref() == Some(current.name.as_str()));
        if best.is_some() {
            warnings.push(format!(
                "no policy the rule allows can be written as one arm within the guardrails; the current arm `{}` is kept",
                current.name
            ));
        }
    }
    let Some(best) = best else {
        let current_breaches = distinct
            .iter()
            .find(|v| v.candidate.arm.as_deref() == Some(current.name.as_str()))
            .map(|v| v.breaches.join("; "))
            .unwrap_or_default();
        bail!("no policy the evidence allows keeps the guardrails (the current arm `{}`: {current_breaches}); no recommendation written", current.name);
    };
    let rec = &distinct[best];
    let changed_segments: Vec<String> = segments
        .iter()
        .enumerate()
        .filter(|(i, s)| rec.picks[*i] != Some(s.current))
        .map(|(_, s)| s.label())
        .collect();
    let name = rec
        .candidate
        .arm
        .clone()
        .unwrap_or_else(|| unique_name(config, "recommended"));
    let recommendation = Recommendation {
        policy: rec.candidate.label.clone(),
        arm: name.clone(),
        steps: rec.candidate.steps.clone(),
        changed: !changed_segments.is_empty(),
        changed_segments,
        net_contribution_per_entry: rec.value.clone(),
        gain_vs_current: rec.gain.clone(),
        gain_vs_baseline: rec.gain_vs_baseline.clone(),
        discount_per_entry: rec.discount,
        unsubscribe_rate_per_message: rec.unsubscribe,
        complaint_rate_per_message: rec.complaint,
    };
    let exploration = if opts.explore > 0.0 {
        let pick = distinct
            .iter()
            .enumerate()
            .filter(|(i, v)| *i != best && v.breaches.is_empty() && v.treatments != rec.treatments)
            .map(|(_, v)| {
                (
                    v,
                    gain_between(segments, &weights, &v.picks, &rec.picks, alpha),
                )
            })
            .max_by(|(_, a), (_, b)| {
                let top = |e: &Estimate| e.upper().unwrap_or(e.estimate);
                top(a).total_cmp(&top(b))
            });
        match pick {
            Some((v, g)) => Some(Exploration {
                policy: v.candidate.label.clone(),
                arm: unique_name(
                    config,
                    if name == "explore" {
                        "explore-2"
                    } else {
                        "explore"
                    },
                ),
                weight: opts.explore,
                steps: v.candidate.steps.clone(),
                gain_vs_recommended: g,
            }),
            None => {
                warnings.push("--explore: no other valued policy to explore".into());
                None
            }
        }
    } else {
        None
    };
    let segment_reports = segments
        .iter()
        .enumerate()
        .map(|(i, s)| segment_report(s, weights[i], rec.picks[i], &rec.treatments[i], alpha))
        .collect();
    let candidates = distinct
        .iter()
        .map(|v| CandidateReport {
            policy: v.candidate.label.clone(),
            arm: v.candidate.arm.clone(),
            net_contribution_per_entry: v.value.clone(),
            gain_vs_current: v.gain.clone(),
            gain_vs_baseline: v.gain_vs_baseline.clone(),
            discount_per_entry: v.discount,
            unsubscribe_rate_per_message: v.unsubscribe,
            complaint_rate_per_message: v.complaint,
            guardrail_breaches: v.breaches.clone(),
            allowed: v.allowed(),
            why_not: v.why_not.clone(),
        })
        .collect();
    Ok(PolicyReport {
        flow: config.flow.name.clone(),
        currency: config.flow.currency.clone(),
        alpha,
        rule: rule(alpha),
        holdout: config.holdout().name.clone(),
        current_arm: current.name.clone(),
        margin: config.margin.clone(),
        guardrails: config.guardrails.clone(),
        not_modelled: vec![NOT_MODELLED],
        entries: reduced.entries,
        entries_without_cart_value: reduced.entries_without_cart_value,
        segments: segment_reports,
        curve,
        candidates,
        recommendation,
        exploration,
        warnings,
    })
}

/// `base`, or `base-2`, … when an arm of the flow already has that name.
fn unique_name(config: &FlowConfig, base: &str) -> String {
    let taken = |n: &str| config.arms.iter().any(|a| a.name == n);
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|n| !taken(n))
        .expect("some name is free")
}

fn segment_report(
    s: &Segment,
    share: f64,
    pick: Option<usize>,
    recommended: &[Step],
    alpha: f64,
) -> SegmentReport {
    let arms = s
        .arms
        .iter()
        .map(|(name, cell)| {
            let steps = &s
                .variants
                .iter()
                .find(|v| v.arms.contains(name))
                .expect("every arm is in a variant")
                .steps;
            let (versus_holdout, error) = match segment::versus(cell, &s.holdout, alpha) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e)),
            };
            ArmReport {
                arm: name.clone(),
                treatment: treatment::describe(steps),
                entries: cell.total(C::Entries) as u64,
                customers: cell.n as u64,
                versus_holdout,
                error,
            }
        })
        .collect();
    let options = s
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = &v.cell;
            let messages = c.total(C::Messages);
            let per_message = |x: C| {
                if messages > 0.0 {
                    c.total(x) / messages
                } else {
                    0.0
                }
            };
            let point = c.per_entry(C::NetContribution);
            OptionReport {
                treatment: treatment::describe(&v.steps),
                arms: v.arms.clone(),
                entries: c.total(C::Entries) as u64,
                customers: c.n as u64,
                net_contribution_per_entry: match c.ratio(C::NetContribution) {
                    Ok(r) => combine(point, &[Term::new(1.0, r)], alpha),
                    Err(e) => Estimate::no_interval(point, e.to_string()),
                },
                discount_per_entry: c.per_entry(C::Discount),
                unsubscribe_rate_per_message: per_message(C::Unsubscribes),
                complaint_rate_per_message: per_message(C::Complaints),
                is_current: i == s.current,
                is_baseline: i == s.baseline,
                gain_vs_baseline: s.gains[i].clone(),
                supported: s.supported[i],
            }
        })
        .collect();
    let changed = pick != Some(s.current);
    let gain = match pick {
        Some(p) if changed => {
            segment::gain(&s.variants[p].cell, &s.variants[s.current].cell, alpha)
        }
        _ => Estimate::exact(0.0),
    };
    let note = if s.entries() == 0.0 {
        Some("no entries in this segment: it keeps the current treatment".to_string())
    } else if !s.measured {
        Some("fewer than 2 customers got the baseline treatment here: it keeps it".to_string())
    } else {
        None
    };
    SegmentReport {
        cart_value_band: s.band.label.clone(),
        customer_status: s.status.clone(),
        entries: s.entries() as u64,
        customers: s.customers() as u64,
        share,
        holdout_entries: s.holdout.total(C::Entries) as u64,
        arms,
        options,
        current: treatment::describe(&s.variants[s.current].steps),
        baseline: treatment::describe(&s.variants[s.baseline].steps),
        recommended: treatment::describe(recommended),
        change: changed.then(|| treatment::difference(&s.variants[s.current].steps, recommended)),
        changed,
        gain,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Incentive, IncentiveKind};
    use crate::duration::Span;

    fn variant(incentive: bool, customers: usize, discount: f64) -> Variant {
        let mut cell = Cell::default();
        for _ in 0..customers {
            let mut x = [0.0; crate::policy::cells::K];
            x[C::Entries as usize] = 1.0;
            x[C::Discount as usize] = discount;
            cell.push(&x);
        }
        Variant {
            steps: vec![Step {
                step: 1,
                delay: Span::from_hours(1),
                channel: "email".into(),
                message: None,
                incentive: incentive.then_some(Incentive {
                    kind: IncentiveKind::PercentOff,
                    value: 10.0,
                    min_cart_value: None,
                    max_cart_value: None,
                    customer_status: None,
                    code: None,
                }),
                klaviyo_message_ids: vec![],
            }],
            arms: vec![],
            cell,
        }
    }

    #[test]
    fn the_baseline_is_the_cheapest_tested_treatment() {
        // The current arm (0) offers a discount; a tested arm without one is cheaper.
        let v = [variant(true, 10, 3.0), variant(false, 10, 0.0)];
        assert_eq!(baseline(&v, 0), 1);
        // Untested (fewer than 2 customers): the current treatment stays.
        let v = [variant(true, 10, 3.0), variant(false, 1, 0.0)];
        assert_eq!(baseline(&v, 0), 0);
        // Among discounts, the one paying less; among equals, the current.
        let v = [variant(true, 10, 3.0), variant(true, 10, 2.0)];
        assert_eq!(baseline(&v, 0), 1);
        let v = [variant(false, 10, 0.0), variant(false, 10, 0.0)];
        assert_eq!(baseline(&v, 1), 1);
    }
}
