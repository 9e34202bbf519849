//! What an arm does to the carts of one segment, and the policies one flow
//! arm can express.
//!
//! A segment is a cart-value band (edges from `[segments] cart_value_bands`)
//! × a customer status. Within a segment an arm's incentive reaches every
//! cart, none, or only part of them (a threshold inside the band). The arm's
//! *treatment* of the segment is its steps with each incentive resolved that
//! way: kept without conditions, dropped, or kept with its conditions (part).
//! Coupon codes are dropped (a code tracks an arm; it is not an offer), so
//! two arms that differ only in codes give the same treatment. Arms that
//! give a segment the same treatment are pooled there.

use crate::config::{Arm, Incentive, IncentiveKind, Segments, Step};

/// A half-open cart-value band `[lo, hi)`; `None` is unbounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// The label `paths` writes in `cart_value_band`.
    pub label: String,
}

/// The bands of the flow's segments, in order.
pub fn bands(segments: &Segments) -> Vec<Band> {
    let edges = &segments.cart_value_bands;
    (0..=edges.len())
        .map(|i| {
            let lo = i.checked_sub(1).map(|j| edges[j]);
            let hi = edges.get(i).copied();
            let inside = lo.or(hi.map(|h| h - 1.0)).unwrap_or(0.0);
            Band {
                lo,
                hi,
                label: segments.band_of(inside),
            }
        })
        .collect()
}

/// How much of a segment an incentive reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    All,
    None,
    Part,
}

/// Cart values are never negative, so a lower bound at or below 0 is no bound.
fn lower_bound(min: Option<f64>) -> f64 {
    match min {
        Some(m) if m > 0.0 => m,
        _ => f64::NEG_INFINITY,
    }
}

pub fn reach(inc: &Incentive, band: &Band, status: &str) -> Reach {
    if let Some(statuses) = &inc.customer_status {
        if !statuses.iter().any(|s| s == status) {
            return Reach::None;
        }
    }
    let (lo, hi) = (
        band.lo.unwrap_or(f64::NEG_INFINITY),
        band.hi.unwrap_or(f64::INFINITY),
    );
    let min = lower_bound(inc.min_cart_value);
    let max = inc.max_cart_value.unwrap_or(f64::INFINITY);
    if min >= hi || max <= lo || min >= max {
        Reach::None
    } else if min <= lo && max >= hi {
        Reach::All
    } else {
        Reach::Part
    }
}

/// The steps a segment's carts get from `steps` (see the module docs).
pub fn treatment_in(steps: &[Step], band: &Band, status: &str) -> Vec<Step> {
    steps
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.incentive = s.incentive.take().and_then(|mut inc| {
                inc.code = None;
                match reach(&inc, band, status) {
                    Reach::None => None,
                    Reach::All => {
                        inc.min_cart_value = None;
                        inc.max_cart_value = None;
                        inc.customer_status = None;
                        Some(inc)
                    }
                    Reach::Part => Some(inc),
                }
            });
            s
        })
        .collect()
}

/// `email 1h, email 24h + 10% off, email 72h`.
pub fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            let mut text = format!("{} {}", s.channel, s.delay);
            if let Some(inc) = &s.incentive {
                text.push_str(" + ");
                text.push_str(&offer(inc));
                let cond = conditions(inc);
                if !cond.is_empty() {
                    text.push_str(&format!(" ({cond})"));
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What changes from `from` to `to`: per step the offer when only offers
/// differ (`step 2: no incentive → 10% off`), else both schedules.
pub fn difference(from: &[Step], to: &[Step]) -> String {
    let same_schedule = from.len() == to.len()
        && from.iter().zip(to).all(|(a, b)| {
            (a.step, a.delay, &a.channel, &a.message) == (b.step, b.delay, &b.channel, &b.message)
        });
    if !same_schedule {
        return format!("{} → {}", describe(from), describe(to));
    }
    let offer_of = |s: &Step| match &s.incentive {
        None => "no incentive".to_string(),
        Some(inc) => match conditions(inc) {
            c if c.is_empty() => offer(inc),
            c => format!("{} ({c})", offer(inc)),
        },
    };
    from.iter()
        .zip(to)
        .filter(|(a, b)| a.incentive != b.incentive)
        .map(|(a, b)| format!("step {}: {} → {}", a.step, offer_of(a), offer_of(b)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `10% off`, `5 off`, `free shipping`.
pub fn offer(inc: &Incentive) -> String {
    match inc.kind {
        IncentiveKind::PercentOff => format!("{}% off", inc.value),
        IncentiveKind::FixedOff => format!("{} off", inc.value),
        IncentiveKind::FreeShipping => "free shipping".into(),
    }
}

/// `carts >= 100, new/returning`; empty when the incentive has no conditions.
pub fn conditions(inc: &Incentive) -> String {
    let mut parts = Vec::new();
    match (inc.min_cart_value.filter(|m| *m > 0.0), inc.max_cart_value) {
        (Some(a), Some(b)) => parts.push(format!("carts {a}-{b}")),
        (Some(a), None) => parts.push(format!("carts >= {a}")),
        (None, Some(b)) => parts.push(format!("carts < {b}")),
        (None, None) => {}
    }
    if let Some(s) = &inc.customer_status {
        parts.push(s.join("/"));
    }
    parts.join(", ")
}

/// A policy one flow arm can express.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// How the report names it.
    pub label: String,
    /// The steps the arm would send.
    pub steps: Vec<Step>,
    /// The tested arm it is, when it is one as tested.
    pub arm: Option<String>,
    /// For the incentive-threshold curve: the template arm, and the
    /// threshold (`Some(0)` always, `None` never) when the incentive has no
    /// upper bound and no status condition.
    pub curve: Option<(String, Option<f64>)>,
}

/// Every tested treatment arm as tested, then for each distinct template
/// (a treatment arm with an incentive, its first incentive step varied) the
/// incentive offered over each cart-value interval with ends on band edges,
/// for each set of the statuses seen (all subsets up to 4 statuses, else
/// only all of them), and the template without its incentive.
pub fn candidates(arms: &[Arm], segments: &Segments, statuses: &[String]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = arms
        .iter()
        .filter(|a| !a.holdout)
        .map(|a| Candidate {
            label: format!("arm `{}` as tested", a.name),
            steps: a.steps.clone(),
            arm: Some(a.name.clone()),
            curve: None,
        })
        .collect();
    // (the steps with the varied incentive's conditions and code cleared, its step, the arm)
    let mut templates: Vec<(Vec<Step>, usize, &Arm)> = Vec::new();
    for arm in arms.iter().filter(|a| !a.holdout) {
        let Some(k) = arm.steps.iter().position(|s| s.incentive.is_some()) else {
            continue;
        };
        let mut key = arm.steps.clone();
        if let Some(inc) = key[k].incentive.as_mut() {
            inc.min_cart_value = None;
            inc.max_cart_value = None;
            inc.customer_status = None;
            inc.code = None;
        }
        if !templates.iter().any(|t| t.0 == key) {
            templates.push((key, k, arm));
        }
    }
    let edges = &segments.cart_value_bands;
    let status_sets = status_sets(statuses);
    for (_, k, arm) in templates {
        let base = &arm.steps[k];
        let inc = base
            .incentive
            .as_ref()
            .expect("template step has an incentive");
        for lo in std::iter::once(None).chain(edges.iter().map(|e| Some(*e))) {
            let uppers = edges
                .iter()
                .filter(|e| lo.is_none_or(|l| **e > l))
                .map(|e| Some(*e))
                .chain(std::iter::once(None));
            for hi in uppers {
                for set in &status_sets {
                    let mut steps = arm.steps.clone();
                    let offered = Incentive {
                        min_cart_value: lo,
                        max_cart_value: hi,
                        customer_status: set.clone(),
                        ..inc.clone()
                    };
                    let curve = (hi.is_none() && set.is_none())
                        .then(|| (arm.name.clone(), Some(lo.unwrap_or(0.0))));
                    let cond = conditions(&offered);
                    let label = format!(
                        "{} at step {} for {}",
                        offer(&offered),
                        base.step,
                        if cond.is_empty() {
                            "every cart".to_string()
                        } else {
                            cond
                        }
                    );
                    steps[k].incentive = Some(offered);
                    out.push(Candidate {
                        label,
                        steps,
                        arm: None,
                        curve,
                    });
                }
            }
        }
        let mut never = arm.steps.clone();
        never[k].incentive = None;
        out.push(Candidate {
            label: format!("no incentive (arm `{}` without its offer)", arm.name),
            steps: never,
            arm: None,
            curve: Some((arm.name.clone(), None)),
        });
    }
    out
}

/// `None` (every status) first, then the proper subsets of the statuses
/// seen, when there are at most 4 of them.
fn status_sets(statuses: &[String]) -> Vec<Option<Vec<String>>> {
    let mut sets = vec![None];
    if statuses.len() > 4 {
        return sets;
    }
    let full = (1u32 << statuses.len()) - 1;
    for mask in (1..full).rev() {
        sets.push(Some(
            statuses
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| s.clone())
                .collect(),
        ));
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FlowConfig;

    fn explore() -> FlowConfig {
        FlowConfig::parse(include_str!("../../data/sample/explore.toml")).unwrap()
    }

    #[test]
    fn bands_carry_the_labels_paths_writes() {
        let s = Segments {
            cart_value_bands: vec![50.0, 100.0],
        };
        let b = bands(&s);
        let labels: Vec<&str> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["<50", "50-100", ">=100"]);
        assert_eq!((b[1].lo, b[1].hi), (Some(50.0), Some(100.0)));
        assert_eq!(
            bands(&Segments {
                cart_value_bands: vec![]
            })[0]
                .label,
            "all"
        );
    }

    #[test]
    fn an_incentive_reaches_all_none_or_part_of_a_band() {
        let s = Segments {
            cart_value_bands: vec![50.0, 100.0],
        };
        let b = bands(&s);
        let inc = |min: Option<f64>, status: Option<Vec<&str>>| Incentive {
            kind: IncentiveKind::PercentOff,
            value: 10.0,
            min_cart_value: min,
            max_cart_value: None,
            customer_status: status.map(|v| v.iter().map(|x| x.to_string()).collect()),
            code: None,
        };
        assert_eq!(reach(&inc(Some(100.0), None), &b[2], "new"), Reach::All);
        assert_eq!(reach(&inc(Some(100.0), None), &b[1], "new"), Reach::None);
        assert_eq!(reach(&inc(Some(75.0), None), &b[1], "new"), Reach::Part);
        assert_eq!(reach(&inc(Some(0.0), None), &b[0], "new"), Reach::All);
        assert_eq!(reach(&inc(None, None), &b[0], "new"), Reach::All);
        let only_new = inc(None, Some(vec!["new"]));
        assert_eq!(reach(&only_new, &b[0], "loyalty"), Reach::None);
        assert_eq!(reach(&only_new, &b[0], "new"), Reach::All);
    }

    #[test]
    fn explore_arms_pool_by_treatment() {
        let c = explore();
        let b = bands(&c.segments);
        let arm = |n: &str| c.arm(n).unwrap().steps.clone();
        // Under $50 only the arm that offers to every cart differs.
        let low = |n: &str| treatment_in(&arm(n), &b[0], "new");
        assert_eq!(low("no_incentive"), low("incentive_ge100"));
        assert_eq!(low("no_incentive"), low("incentive_ge50"));
        assert_ne!(low("no_incentive"), low("incentive_all"));
        // Over $100 every incentive arm gives the same offer, whatever its code.
        let high = |n: &str| treatment_in(&arm(n), &b[2], "new");
        assert_eq!(high("incentive_ge100"), high("incentive_all"));
        assert_ne!(high("no_incentive"), high("incentive_all"));
        assert!(describe(&high("incentive_all")).contains("email 1d + 10% off"));
        assert_eq!(
            difference(&high("no_incentive"), &high("incentive_all")),
            "step 2: no incentive → 10% off"
        );
    }

    #[test]
    fn candidates_cover_thresholds_statuses_and_never() {
        let c = explore();
        let statuses: Vec<String> = ["loyalty", "new", "returning"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = candidates(&c.arms, &c.segments, &statuses);
        // 4 arms as tested; one template: 10 intervals over 3 edges × 7 status sets, and never.
        assert_eq!(all.len(), 4 + 10 * 7 + 1);
        let curve: Vec<Option<f64>> = all
            .iter()
            .filter_map(|x| x.curve.as_ref().map(|c| c.1))
            .collect();
        assert_eq!(
            curve,
            [Some(0.0), Some(50.0), Some(100.0), Some(150.0), None]
        );
        assert!(all
            .iter()
            .any(|x| x.label == "10% off at step 2 for carts >= 100"));
    }
}
