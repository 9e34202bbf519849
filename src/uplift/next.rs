//! The learned policy on a flow's carts written back as the next flow file:
//! the holdout at its weight, and one arm that sends each entry the steps
//! of the experiment's arm its tree leaf assigns, as conditional branches
//! (`[[arms.branches]]`, one per leaf, the leaf's path as its condition).
//! Optionally the experiment's treatment arms keep an exploration share
//! between them, so the next run can still learn.
//!
//! What is written follows the evidence rule: `policy_tree` writes the tree;
//! `treat_all:<arm>` and `keep:<arm>` write that arm for every entry.

use super::{TreeView, UpliftReport};
use crate::branch::{Branch, Categories, When};
use crate::config::{Arm, FlowConfig};
use anyhow::{bail, Context, Result};

/// Name of the arm that carries the tree's branches (a suffix is added if
/// the flow already has an arm of that name).
pub const TARGETED_ARM: &str = "targeted";

/// The next flow file's text (TOML with a comment header), for a report of
/// `policy CARTS --flow F --covariates ...` on `config`'s carts. `explore`
/// (0 ≤ x < 1 − holdout weight) is shared equally by the experiment's
/// treatment arms. Errors: a report whose arms or covariates the flow cannot
/// express (a bug, or a report from another flow).
pub fn tree_flow(
    config: &FlowConfig,
    report: &UpliftReport,
    explore: f64,
    source: &str,
) -> Result<String> {
    let holdout = config.holdout().clone();
    let treatments: Vec<&Arm> = config.arms.iter().filter(|a| !a.holdout).collect();
    if !(0.0..1.0 - holdout.weight).contains(&explore) {
        bail!(
            "--explore {explore}: expected a share below {} (what the holdout leaves)",
            1.0 - holdout.weight
        );
    }
    let arm_named = |arm: &str| -> Result<&Arm> {
        config.arm(arm).with_context(|| {
            format!(
                "the policy names arm `{arm}`, which flow `{}` does not have",
                config.flow.name
            )
        })
    };
    let main_weight = crate::policy::next::clean(1.0 - holdout.weight - explore);
    let (main, what) = match report.decision.recommend.split_once(':') {
        Some((_, arm)) => {
            // treat_all:<arm> or keep:<arm>: that arm for every entry, as it
            // ran in the experiment (its branches included).
            let a = arm_named(arm)?;
            if a.holdout {
                bail!(
                    "the evidence favours sending nothing ({}): there is no flow to write; pause the flow instead",
                    report.decision.recommend
                );
            }
            let mut a = a.clone();
            a.weight = main_weight;
            let what = format!(
                "arm `{arm}` for every entry ({})",
                report.decision.recommend
            );
            (a, what)
        }
        None => {
            let mut name = TARGETED_ARM.to_string();
            while config.arm(&name).is_some() {
                name.push('_');
            }
            let mut leaf_list = Vec::new();
            leaves(&report.tree, When::default(), &mut leaf_list)?;
            // Each leaf sends what its arm sent in the experiment: the
            // arm's branches within the leaf's condition, then its own steps.
            let mut branches = Vec::new();
            for (when, arm) in leaf_list {
                // A value a flow file cannot hold (a category from a table
                // `paths` did not write) stops here rather than dropping
                // the leaf's entries.
                when.check_values("the policy tree's leaf")
                    .with_context(|| {
                        format!(
                            "the leaf `{}` (arm `{arm}`) cannot be written as a flow branch",
                            when.describe()
                        )
                    })?;
                // A path no entry can follow is left out (the tree's leaves
                // all hold units, so this only guards against a bug).
                if when.validate("").is_err() {
                    continue;
                }
                let a = arm_named(&arm)?;
                for b in &a.branches {
                    // Both conditions, when some entry can meet them (an
                    // overlap between whole numbers counts as none).
                    if let Some(both) = when.and(&b.when).filter(|w| w.validate("").is_ok()) {
                        branches.push(Branch {
                            name: Some(match &b.name {
                                Some(n) => bounded_name(&format!("{arm}: {n}")),
                                None => arm.clone(),
                            }),
                            when: both,
                            steps: b.steps.clone(),
                        });
                    }
                }
                branches.push(Branch {
                    name: Some(arm.clone()),
                    when,
                    steps: a.steps.clone(),
                });
            }
            // An entry no leaf takes (no cart value, a status the data did
            // not have) gets today's arm as it ran.
            let fallback = arm_named(&report.current)?;
            branches.extend(fallback.branches.iter().cloned());
            if branches.iter().all(|b| b.steps.is_empty()) && fallback.steps.is_empty() {
                bail!("the policy tree sends nothing to any entry: there is no flow to write; pause the flow instead");
            }
            let what = format!(
                "the policy tree, {} branches (an entry no leaf takes, e.g. one without a cart value, gets arm `{}` as it ran)",
                branches.len(),
                fallback.name
            );
            let arm = Arm {
                name,
                weight: main_weight,
                holdout: false,
                steps: fallback.steps.clone(),
                branches,
            };
            (arm, what)
        }
    };
    let mut arms = vec![holdout.clone(), main];
    // Exploration: the experiment's other treatment arms share `explore`.
    let explorers: Vec<&Arm> = treatments
        .iter()
        .copied()
        .filter(|t| t.name != arms[1].name)
        .collect();
    if explore > 0.0 && explorers.is_empty() {
        bail!(
            "--explore {explore}: the flow has no other treatment arm than `{}` to keep exploring; drop --explore",
            arms[1].name
        );
    }
    let each = crate::policy::next::clean(explore / explorers.len().max(1) as f64);
    if each > 0.0 && !explorers.is_empty() {
        for t in &explorers {
            let mut a = (*t).clone();
            a.weight = each;
            arms.push(a);
        }
        // Rounding lands on the main arm, so the weights sum to 1.
        let rest: f64 = arms.iter().skip(2).map(|a| a.weight).sum();
        arms[1].weight = crate::policy::next::clean(1.0 - holdout.weight - rest);
    } else {
        arms[1].weight = crate::policy::next::clean(1.0 - holdout.weight);
    }
    let explore = arms.iter().skip(2).map(|a| a.weight).sum::<f64>();
    crate::policy::next::check_bucket_weights(&arms)?;
    let next = FlowConfig {
        arms,
        ..config.clone()
    };
    let body = next.to_toml()?;
    let mut lines = vec![
        format!(
            "Next flow written by `cartlift policy --covariates` from {source} ({} customers, flow `{}`).",
            report.train_units, config.flow.name
        ),
        format!("Deploys {what}."),
        format!("Evidence rule: {}", report.decision.reason),
    ];
    for g in &report.gains {
        lines.push(format!(
            "Gain {} per entry: {:.4} [{:.4}, {:.4}] ({}, {} units).",
            g.name,
            g.value.estimate,
            g.value.ci.lower,
            g.value.ci.upper,
            report.reported_on,
            g.value.n
        ));
    }
    lines.push(format!(
        "The holdout `{}` keeps its weight ({}) for continuous measurement.",
        holdout.name, holdout.weight
    ));
    if explore > 0.0 {
        lines.push(format!(
            "Exploration: the experiment's other treatment arms share {} of entries.",
            crate::policy::next::clean(explore)
        ));
    }
    let mut header = String::new();
    for line in lines {
        let line = crate::output::encode::toml_comment(&line);
        for wrapped in crate::policy::next::wrap(&line, 76) {
            header.push_str("# ");
            header.push_str(&wrapped);
            header.push('\n');
        }
    }
    let text = header + "\n" + &body;
    let again =
        FlowConfig::parse(&text).context("the next flow file does not parse back (a bug)")?;
    anyhow::ensure!(
        again == next,
        "the next flow file reads back differently (a bug)"
    );
    Ok(text)
}

/// A branch name within the flow file's name limit (cut at a character).
fn bounded_name(name: &str) -> String {
    let max = crate::validate::MAX_ID_BYTES;
    if name.len() <= max {
        return name.to_string();
    }
    let mut end = max;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// Each leaf's condition (its path from the root) and arm, left to right.
fn leaves(node: &TreeView, when: When, out: &mut Vec<(When, String)>) -> Result<()> {
    match node {
        TreeView::Leaf { arm } => {
            out.push((when, arm.clone()));
            Ok(())
        }
        TreeView::Split {
            column,
            category,
            threshold,
            left,
            right,
            ..
        } => {
            let (mut l, mut r) = (when.clone(), when);
            match category {
                Some(value) => {
                    if l.categories_mut(column).is_none() {
                        bail!("a split on category `{column}={value}`: a flow branch cannot test it; expected one of {}", crate::branch::TEXT_FIELDS.join(", "));
                    }
                    narrow_text(&mut l, column, value, false);
                    narrow_text(&mut r, column, value, true);
                }
                None => {
                    let Some(range) = l.range_mut(column) else {
                        bail!("a split on `{column}`: a flow branch cannot test it; expected one of {}", crate::branch::NUMERIC_FIELDS.join(", "));
                    };
                    range
                        .get_or_insert_with(Default::default)
                        .narrow(*threshold, true);
                    let range = r.range_mut(column).expect("same field");
                    range
                        .get_or_insert_with(Default::default)
                        .narrow(*threshold, false);
                }
            }
            leaves(left, l, out)?;
            leaves(right, r, out)
        }
    }
}

/// Adds `column == value` (`is`) or `!=` to a condition on a text field
/// (one of [`crate::branch::TEXT_FIELDS`]), keeping one list: an `in` list
/// once any equality holds, else a `not_in` list.
fn narrow_text(w: &mut When, column: &str, value: &str, is: bool) {
    let c = w
        .categories_mut(column)
        .expect("checked a text field")
        .get_or_insert_with(Categories::default);
    match (&mut c.is_in, is) {
        (Some(list), true) => list.retain(|v| v == value),
        (Some(list), false) => list.retain(|v| v != value),
        (None, true) => {
            c.is_in = Some(vec![value.to_string()]);
            c.not_in = None;
        }
        (None, false) => {
            let list = c.not_in.get_or_insert_with(Vec::new);
            if !list.iter().any(|v| v == value) {
                list.push(value.to_string());
                list.sort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(arm: &str) -> TreeView {
        TreeView::Leaf { arm: arm.into() }
    }

    fn split(column: &str, category: Option<&str>, t: f64, l: TreeView, r: TreeView) -> TreeView {
        TreeView::Split {
            feature: column.into(),
            column: column.into(),
            category: category.map(Into::into),
            threshold: t,
            left: Box::new(l),
            right: Box::new(r),
        }
    }

    #[test]
    fn each_leaf_becomes_the_condition_of_its_path() {
        let tree = split(
            "prior_orders",
            None,
            0.0,
            split(
                "customer_status",
                Some("loyalty"),
                0.5,
                leaf("disc"),
                leaf("flow"),
            ),
            split("cart_value", None, 80.0, leaf("holdout"), leaf("flow")),
        );
        let mut out = Vec::new();
        leaves(&tree, When::default(), &mut out).unwrap();
        let got: Vec<(String, String)> =
            out.iter().map(|(w, a)| (w.describe(), a.clone())).collect();
        assert_eq!(
            got,
            [
                (
                    "prior_orders <= 0, customer_status not in [loyalty]".to_string(),
                    "disc".to_string()
                ),
                (
                    "prior_orders <= 0, customer_status in [loyalty]".into(),
                    "flow".into()
                ),
                (
                    "cart_value <= 80, prior_orders > 0".into(),
                    "holdout".into()
                ),
                ("cart_value > 80, prior_orders > 0".into(), "flow".into()),
            ]
        );
        let bad = split("abandoned_minute", None, 3.0, leaf("a"), leaf("b"));
        assert!(leaves(&bad, When::default(), &mut Vec::new()).is_err());
    }

    #[test]
    fn status_conditions_stay_one_list() {
        let mut w = When::default();
        narrow_text(&mut w, "customer_status", "new", false);
        narrow_text(&mut w, "customer_status", "loyalty", false);
        assert_eq!(w.describe(), "customer_status not in [loyalty, new]");
        narrow_text(&mut w, "customer_status", "returning", true);
        assert_eq!(w.describe(), "customer_status in [returning]");
        narrow_text(&mut w, "customer_status", "returning", false);
        assert_eq!(w.describe(), "customer_status in []");
    }
}
