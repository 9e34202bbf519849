//! Klaviyo definition → `FlowConfig`.
//!
//! The arms come from the chain of `cartlift_arm` splits at the start of the
//! flow (an arm whose branch sends nothing is the holdout; what follows the
//! last split is the first treatment arm), each arm's steps from the sends
//! along its branch with the cumulative delay of the `time-delay`s before
//! them, and incentives from the message names (`offer [incentive: 10% off,
//! code TEN]`) and the value splits above them. What a Klaviyo flow does not
//! hold (abandonment, attribution, salt, weights, margin, …) comes from a base
//! flow file or from defaults, each default named in a warning.

use super::definition::{Definition, Kind, Op, Reentry};
use super::incentive_tag;
use crate::config::{
    Arm, Assignment, FlowConfig, FlowSection, Guardrails, Incentive, KlaviyoLink, Margin, Segments,
    Step, Trigger,
};
use crate::duration::Span;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};

/// How to fill what a Klaviyo definition does not say.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions<'a> {
    /// The flow file to take everything else from (abandonment, attribution
    /// window, salt, arm weights by name, margin, segments, guardrails).
    pub base: Option<&'a FlowConfig>,
    /// Metric id → name (`definition::metric_names`), to name the trigger.
    pub metrics: Option<&'a BTreeMap<String, String>>,
    /// The trigger, whatever the definition or the metrics say.
    pub trigger: Option<Trigger>,
    /// The holdout's share when the flow has none and no base names one
    /// (default 0.1).
    pub holdout_share: Option<f64>,
}

/// The flow file and everything the translation had to assume or leave out.
#[derive(Debug, Clone)]
pub struct Imported {
    pub config: FlowConfig,
    pub warnings: Vec<String>,
}

/// One send on a branch, before steps are numbered.
#[derive(Debug, Clone)]
struct Draft {
    at: i64,
    channel: String,
    message: Option<String>,
    incentive: Option<(Incentive, Range)>,
    message_ids: Vec<String>,
    /// Action ids, for messages.
    actions: Vec<String>,
}

/// Cart values `[min, max)` an incentive is offered to.
type Range = (Option<f64>, Option<f64>);

struct Walker<'a> {
    def: &'a Definition,
    warnings: Vec<String>,
}

/// Translates a definition into a flow file; errors name the action and
/// what was expected.
pub fn import(def: &Definition, opts: &ImportOptions) -> Result<Imported> {
    def.check_links()?;
    let mut w = Walker {
        def,
        warnings: Vec::new(),
    };
    let base = opts.base;
    let trigger = w.trigger(opts)?;

    // The arm chain at the start of the flow.
    let mut splits: Vec<(String, Option<String>, String)> = Vec::new();
    let mut cur = def.entry.clone();
    let mut seen = BTreeSet::new();
    while let Some(id) = cur.clone() {
        let a = def.action(&id).expect("links checked");
        match &a.kind {
            Kind::ArmSplit { arm, yes, no } => {
                if !seen.insert(id.clone()) {
                    bail!("action `{id}`: the arm splits loop back to it");
                }
                if splits.iter().any(|(n, _, _)| n == arm) {
                    bail!(
                        "action `{id}`: a second split on `{}` = `{arm}`; expected one per arm",
                        super::ARM_PROPERTY
                    );
                }
                splits.push((arm.clone(), yes.clone(), id.clone()));
                cur = no.clone();
            }
            _ => break,
        }
    }
    let fallback = cur;

    let mut arms: Vec<(String, Vec<Draft>)> = Vec::new();
    for (arm, yes, _) in &splits {
        let drafts = w.walk(yes.as_deref(), 0, &mut BTreeSet::new())?;
        arms.push((arm.clone(), drafts));
    }
    let fallback_drafts = w.walk(fallback.as_deref(), 0, &mut BTreeSet::new())?;
    let empty: Vec<&str> = arms
        .iter()
        .filter(|(_, d)| d.is_empty())
        .map(|(n, _)| n.as_str())
        .collect();
    if empty.len() > 1 {
        bail!(
            "arms `{}` send nothing: expected one holdout (a split on `{}` whose branch goes straight to the exit)",
            empty.join("`, `"),
            super::ARM_PROPERTY
        );
    }
    let holdout_name = match empty.first() {
        Some(n) => n.to_string(),
        None => {
            let name = base
                .map(|b| b.holdout().name.clone())
                .filter(|n| !arms.iter().any(|(a, _)| a == n))
                .unwrap_or_else(|| "holdout".into());
            let share = base
                .map(|b| b.holdout().weight)
                .or(opts.holdout_share)
                .unwrap_or(0.1);
            w.warn(format!(
                "the flow has no holdout (a conditional split on the profile property `{}` that sends to the exit): added arm `{name}` with {}% of customers; give profiles their arm with `cartlift assign --export klaviyo` and load the flow from `cartlift flow export` to hold them out",
                super::ARM_PROPERTY,
                share * 100.0
            ));
            name
        }
    };
    if !fallback_drafts.is_empty() {
        let named: BTreeSet<&str> = arms.iter().map(|(n, _)| n.as_str()).collect();
        let from_base = base.and_then(|b| {
            b.arms
                .iter()
                .find(|a| !a.holdout && !named.contains(a.name.as_str()))
                .map(|a| a.name.clone())
        });
        let name = match from_base {
            Some(n) => n,
            None => {
                let n = ["flow", "fallback", "default"]
                    .into_iter()
                    .find(|n| !named.contains(n) && *n != holdout_name)
                    .unwrap_or("flow")
                    .to_string();
                if !splits.is_empty() {
                    w.warn(format!(
                        "the branch after the last `{}` split (profiles with another or no arm) has no arm name in Klaviyo: named it `{n}`",
                        super::ARM_PROPERTY
                    ));
                }
                n
            }
        };
        // The production arm: first among the treatments.
        arms.insert(0, (name, fallback_drafts));
    } else if !splits.is_empty() {
        w.warn(format!(
            "profiles without a `{}` property (or with another value) get no message from this flow",
            super::ARM_PROPERTY
        ));
    }
    if !arms.iter().any(|(n, _)| *n == holdout_name) {
        arms.insert(0, (holdout_name.clone(), Vec::new()));
    } else {
        // Holdout first, as `flow export` and `policy` write it.
        let i = arms.iter().position(|(n, _)| *n == holdout_name).unwrap();
        let h = arms.remove(i);
        arms.insert(0, h);
    }
    if arms.len() < 2 {
        bail!("the flow sends no message (no send-email, send-sms or send-push-notification action is reached from `entry_action_id`)");
    }

    let mut config_arms = Vec::with_capacity(arms.len());
    for (name, drafts) in arms {
        let steps = w.steps(&name, drafts)?;
        config_arms.push(Arm {
            holdout: name == holdout_name,
            name,
            weight: 0.0,
            steps,
            branches: Vec::new(),
        });
    }
    w.weights(&mut config_arms, base, opts.holdout_share);

    let first_delay = config_arms
        .iter()
        .flat_map(|a| a.steps.first())
        .map(|s| s.delay)
        .min()
        .unwrap_or(Span::from_hours(1));
    let config = w.assemble(def, trigger, config_arms, first_delay, base)?;
    let text = config.to_toml()?;
    let config = FlowConfig::parse(&text).context("the imported flow is not a valid flow file")?;
    Ok(Imported {
        config,
        warnings: w.warnings,
    })
}

/// `Started Checkout` → checkout_started, `Added to Cart` → cart_updated.
fn trigger_of_metric(name: &str) -> Option<Trigger> {
    let key: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    match key.as_str() {
        "startedcheckout" | "checkoutstarted" => Some(Trigger::CheckoutStarted),
        "addedtocart" | "addtocart" | "cartupdated" | "updatedcart" => Some(Trigger::CartUpdated),
        _ => None,
    }
}

impl Walker<'_> {
    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn trigger(&mut self, opts: &ImportOptions) -> Result<Trigger> {
        if let Some(t) = opts.trigger {
            return Ok(t);
        }
        let id = self.def.trigger_metric_id.clone();
        if let (Some(id), Some(metrics)) = (&id, opts.metrics) {
            if let Some(name) = metrics.get(id) {
                return trigger_of_metric(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "the trigger metric `{name}` (id {id}) is not a cart trigger; expected Started Checkout or Added to Cart (--trigger overrides)"
                    )
                });
            }
        }
        if let Some(b) = opts.base {
            let base_id = b
                .klaviyo
                .as_ref()
                .and_then(|k| k.trigger_metric_id.as_ref());
            if id.is_none() || base_id == id.as_ref() {
                return Ok(b.flow.trigger);
            }
        }
        let what = match (&id, opts.metrics) {
            (Some(id), Some(_)) => format!("the trigger metric {id} is not in the metrics given"),
            (Some(id), None) => {
                format!("the definition names its trigger metric only by id ({id})")
            }
            (None, _) => "the definition names no trigger metric".into(),
        };
        self.warn(format!(
            "{what}: assumed the abandoned-checkout trigger `checkout_started` (Started Checkout); pass --metrics (a GET /api/metrics response or an events page) or --trigger"
        ));
        Ok(Trigger::CheckoutStarted)
    }

    /// The sends from action `id` on, `at` seconds after the trigger.
    fn walk(
        &mut self,
        id: Option<&str>,
        at: i64,
        path: &mut BTreeSet<String>,
    ) -> Result<Vec<Draft>> {
        let mut out = Vec::new();
        let mut at = at;
        let mut cur = id.map(str::to_string);
        let mut local: Vec<String> = Vec::new();
        while let Some(id) = cur {
            if !path.insert(id.clone()) {
                bail!("action `{id}` is reached again from its own branch (a loop); expected a tree of actions");
            }
            local.push(id.clone());
            let a = self.def.action(&id).expect("links checked").clone();
            cur = match a.kind {
                Kind::Delay {
                    seconds,
                    calendar,
                    next,
                } => {
                    if let Some(c) = calendar {
                        self.warn(format!(
                            "action `{id}` (time-delay): waits {c}, which cartlift cannot model; read as a fixed delay of {}",
                            Span::from_seconds(seconds)
                        ));
                    }
                    at = at.checked_add(seconds).unwrap_or(i64::MAX);
                    next
                }
                Kind::Send {
                    channel,
                    name,
                    message_id,
                    status,
                    ab_test,
                    next,
                    ..
                } => {
                    if let Some(what) = ab_test {
                        self.warn(format!(
                            "action `{id}` (ab-test): read as its main message; {what} are not modelled"
                        ));
                    }
                    if status.as_deref() == Some("disabled") {
                        self.warn(format!(
                            "action `{id}` (send-{channel}): disabled in Klaviyo, so not a step"
                        ));
                    } else {
                        let (message, incentive) = match &name {
                            Some(n) => incentive_tag::parse(n)
                                .with_context(|| format!("action `{id}`: message name `{n}`"))?,
                            None => (None, None),
                        };
                        out.push(Draft {
                            at,
                            channel,
                            message,
                            incentive: incentive.map(|i| (i, (None, None))),
                            message_ids: message_id.into_iter().collect(),
                            actions: vec![id.clone()],
                        });
                    }
                    next
                }
                Kind::ValueSplit {
                    op,
                    threshold,
                    yes,
                    no,
                } => {
                    let (ry, rn) = self.ranges(&id, op, threshold);
                    let left = self.walk(yes.as_deref(), at, path)?;
                    let right = self.walk(no.as_deref(), at, path)?;
                    out.extend(self.merge(&id, op, threshold, left, right, ry, rn));
                    None
                }
                Kind::ArmSplit { arm, yes, no } => {
                    let n = self.count_sends(no.as_deref());
                    self.warn(format!(
                        "action `{id}` (conditional-split on `{}` = `{arm}`) is not at the start of the flow, where arms are split: followed its `yes` branch; {n} message(s) on its `no` branch are left out",
                        super::ARM_PROPERTY
                    ));
                    yes
                }
                Kind::Other {
                    type_name,
                    detail,
                    branches,
                } => {
                    let mut branches = branches.into_iter();
                    let (label, first) = branches.next().unwrap_or(("next".into(), None));
                    let left_out: Vec<String> = branches
                        .map(|(l, b)| format!("{} on `{l}`", self.count_sends(b.as_deref())))
                        .collect();
                    let rest = if left_out.is_empty() {
                        "skipped".to_string()
                    } else {
                        format!(
                            "followed its `{label}` branch; message(s) left out: {}",
                            left_out.join(", ")
                        )
                    };
                    self.warn(format!(
                        "action `{id}` ({type_name}): {detail}, which cartlift does not model: {rest}"
                    ));
                    first
                }
            };
        }
        for id in local {
            path.remove(&id);
        }
        Ok(out)
    }

    /// Messages reachable from `id` (every branch), for warnings.
    fn count_sends(&self, id: Option<&str>) -> usize {
        let mut n = 0;
        let mut stack: Vec<String> = id.map(str::to_string).into_iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(a) = self.def.action(&id) else {
                continue;
            };
            if matches!(a.kind, Kind::Send { .. }) {
                n += 1;
            }
            stack.extend(a.kind.links().into_iter().flatten().cloned());
        }
        n
    }

    /// Cart values of the `yes` and `no` branches of `value OP threshold`.
    fn ranges(&mut self, id: &str, op: Op, t: f64) -> (Range, Range) {
        if matches!(op, Op::Gt | Op::Le) {
            self.warn(format!(
                "action `{id}` (trigger-split on `$value` {} {t}): cartlift thresholds include their lower edge (>=); read as {} {t}",
                op.symbol(),
                if op == Op::Gt { ">=" } else { "<" }
            ));
        }
        match op {
            Op::Ge | Op::Gt => ((Some(t), None), (None, Some(t))),
            Op::Lt | Op::Le => ((None, Some(t)), (Some(t), None)),
        }
    }

    /// The branches of a value split as one sequence of steps: they must send
    /// the same messages at the same times and differ only in incentives.
    #[allow(clippy::too_many_arguments)]
    fn merge(
        &mut self,
        id: &str,
        op: Op,
        t: f64,
        left: Vec<Draft>,
        right: Vec<Draft>,
        ry: Range,
        rn: Range,
    ) -> Vec<Draft> {
        let same_shape = left.len() == right.len()
            && left
                .iter()
                .zip(&right)
                .all(|(a, b)| a.at == b.at && a.channel == b.channel && a.message == b.message);
        let split = format!(
            "action `{id}` (trigger-split on `$value` {} {t})",
            op.symbol()
        );
        if !same_shape {
            let n = right.len();
            self.warn(format!(
                "{split}: its branches send different messages, and cartlift offers one sequence of messages per arm (it varies only the incentive by cart value): kept the `yes` branch; {n} message(s) on the `no` branch are left out"
            ));
            return left.into_iter().map(|d| restrict(d, ry)).collect();
        }
        let mut out = Vec::with_capacity(left.len());
        for (a, b) in left.into_iter().zip(right) {
            let incentive = match (&a.incentive, &b.incentive) {
                (None, None) => None,
                (Some((i, r)), None) => intersect(*r, ry).map(|r| (i.clone(), r)),
                (None, Some((i, r))) => intersect(*r, rn).map(|r| (i.clone(), r)),
                (Some((i, r1)), Some((j, r2))) => match (intersect(*r1, ry), intersect(*r2, rn)) {
                    (None, None) => None,
                    (Some(x), None) => Some((i.clone(), x)),
                    (None, Some(y)) => Some((j.clone(), y)),
                    (Some(x), Some(y)) => match union(x, y).filter(|_| same_incentive(i, j)) {
                        Some(u) => Some((i.clone(), u)),
                        None => {
                            self.warn(format!(
                                    "{split}: both branches offer an incentive in `{}`, and a step offers one incentive to one cart-value range: kept the `yes` branch's",
                                    a.message.as_deref().unwrap_or("(unnamed message)")
                                ));
                            Some((i.clone(), x))
                        }
                    },
                },
            };
            let mut message_ids = a.message_ids.clone();
            message_ids.extend(b.message_ids.iter().cloned());
            let mut actions = a.actions.clone();
            actions.extend(b.actions.iter().cloned());
            out.push(Draft {
                incentive,
                message_ids,
                actions,
                ..a
            });
        }
        out
    }

    /// Drafts → numbered steps.
    fn steps(&mut self, arm: &str, drafts: Vec<Draft>) -> Result<Vec<Step>> {
        let mut steps = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.into_iter().enumerate() {
            if let Some(prev) = steps.last() {
                let prev: &Step = prev;
                if Span::from_seconds(d.at) <= prev.delay {
                    bail!(
                        "arm `{arm}`: action `{}` sends at {} after the trigger, no later than the message before it ({}); cartlift steps need a time-delay between them",
                        d.actions.join("`/`"),
                        Span::from_seconds(d.at),
                        prev.delay
                    );
                }
            }
            if d.at == 0 {
                bail!(
                    "arm `{arm}`: action `{}` sends at the trigger itself; cartlift measures steps from abandonment, so expected a time-delay before the first message",
                    d.actions.join("`/`")
                );
            }
            let mut ids = d.message_ids;
            ids.sort();
            ids.dedup();
            steps.push(Step {
                step: i as u32 + 1,
                delay: Span::from_seconds(d.at),
                channel: d.channel,
                message: d.message,
                incentive: d.incentive.map(|(mut inc, (lo, hi))| {
                    inc.min_cart_value = lo;
                    inc.max_cart_value = hi;
                    inc
                }),
                klaviyo_message_ids: ids,
            });
        }
        Ok(steps)
    }

    fn weights(&mut self, arms: &mut [Arm], base: Option<&FlowConfig>, share: Option<f64>) {
        if let Some(b) = base {
            let same = arms.len() == b.arms.len()
                && arms
                    .iter()
                    .all(|a| b.arm(&a.name).is_some_and(|x| x.holdout == a.holdout));
            if same {
                for a in arms.iter_mut() {
                    a.weight = b.arm(&a.name).expect("checked").weight;
                }
                // The base's order: the bucket ranges follow it.
                arms.sort_by_key(|a| b.arms.iter().position(|x| x.name == a.name));
                return;
            }
        }
        let h = base.map(|b| b.holdout().weight).or(share).unwrap_or(0.1);
        let n = (arms.len() - 1) as f64;
        let each = ((1.0 - h) / n * 1e9).round() / 1e9;
        let mut names = Vec::new();
        for a in arms.iter_mut() {
            a.weight = if a.holdout { h } else { each };
            names.push(format!("{} {}", a.name, a.weight));
        }
        self.warn(format!(
            "arm weights are not part of a Klaviyo flow{}: set to {}",
            if base.is_some() {
                " and the base flow file has other arms"
            } else {
                ""
            },
            names.join(", ")
        ));
    }

    fn assemble(
        &mut self,
        def: &Definition,
        trigger: Trigger,
        arms: Vec<Arm>,
        first_delay: Span,
        base: Option<&FlowConfig>,
    ) -> Result<FlowConfig> {
        let reentry = match def.reentry {
            Some(Reentry::After(s)) => Span::from_seconds(s),
            Some(Reentry::Always) => Span::from_seconds(0),
            Some(Reentry::Never) => {
                self.warn(
                    "re-entry: Klaviyo lets a profile through this flow only once; read as a cooldown of 100 years".into(),
                );
                Span::from_days(36_500)
            }
            None => match base {
                Some(b) => b.flow.reentry_cooldown,
                None => {
                    self.warn("re-entry: the definition sets no re-entry criteria, so a profile re-enters each time it triggers: reentry_cooldown = 0s".into());
                    Span::from_seconds(0)
                }
            },
        };
        let link = KlaviyoLink {
            flow_id: def.flow_id.clone(),
            trigger_metric_id: def.trigger_metric_id.clone(),
        };
        let klaviyo = (link != KlaviyoLink::default()).then_some(link);
        let name = if def.name.trim().is_empty() {
            base.map(|b| b.flow.name.clone())
                .unwrap_or_else(|| "abandoned-cart".into())
        } else {
            def.name.clone()
        };
        if let Some(b) = base {
            return Ok(FlowConfig {
                flow: FlowSection {
                    name,
                    trigger,
                    reentry_cooldown: reentry,
                    ..b.flow.clone()
                },
                arms,
                klaviyo,
                ..b.clone()
            });
        }
        let abandon_after = first_delay.min(Span::from_hours(1));
        let salt = format!(
            "cartlift-{}",
            def.flow_id.clone().unwrap_or_else(|| slug(&name))
        );
        let channels: BTreeSet<&str> = arms
            .iter()
            .flat_map(|a| a.steps.iter().map(|s| s.channel.as_str()))
            .collect();
        self.warn(format!(
            "not part of a Klaviyo flow, set to defaults (edit them, or pass --base FLOW.toml): flow.abandon_after = {abandon_after}, flow.attribution_window = 7d, flow.currency = USD, assignment.salt = {salt:?}, margin.contribution_margin = 0.5, margin.shipping_cost = 0, no message costs (channels used: {}), default segments and guardrails",
            channels.into_iter().collect::<Vec<_>>().join(", ")
        ));
        Ok(FlowConfig {
            flow: FlowSection {
                name,
                trigger,
                abandon_after,
                reentry_cooldown: reentry,
                attribution_window: Span::from_days(7),
                frequency_cap: None,
                currency: "USD".into(),
            },
            assignment: Assignment { salt },
            arms,
            margin: Margin {
                contribution_margin: 0.5,
                shipping_cost: 0.0,
                message_cost: BTreeMap::new(),
            },
            segments: Segments::default(),
            guardrails: Guardrails::default(),
            klaviyo,
            simulation: None,
        })
    }
}

fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "klaviyo-flow".into()
    } else {
        s
    }
}

fn intersect(a: Range, b: Range) -> Option<Range> {
    let lo = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let hi = match (a.1, b.1) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    match (lo, hi) {
        (Some(l), Some(h)) if l >= h => None,
        _ => Some((lo, hi)),
    }
}

/// The union of two ranges when it is one range (they overlap or touch).
fn union(a: Range, b: Range) -> Option<Range> {
    let lo_max = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let hi_min = match (a.1, b.1) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if let (Some(l), Some(h)) = (lo_max, hi_min) {
        if l > h {
            return None;
        }
    }
    let lo = a.0.zip(b.0).map(|(x, y)| x.min(y));
    let hi = a.1.zip(b.1).map(|(x, y)| x.max(y));
    Some((lo, hi))
}

fn restrict(mut d: Draft, r: Range) -> Draft {
    d.incentive = d
        .incentive
        .and_then(|(i, ir)| intersect(ir, r).map(|x| (i, x)));
    d
}

fn same_incentive(a: &Incentive, b: &Incentive) -> bool {
    a.kind == b.kind && a.value == b.value && a.code == b.code
}
