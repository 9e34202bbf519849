//! Table mode's terminal text and `--scores` file (the same numbers as the JSON).

use super::{ScoreRow, TreeView, UpliftReport};
use crate::output::encode;
use std::fmt::Write;

fn num(x: f64) -> String {
    format!("{x:+.6}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.6}"))
}

fn draw(t: &TreeView, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    match t {
        TreeView::Leaf { arm } => {
            let _ = writeln!(out, "{pad}→ {}", encode::terminal(arm));
        }
        TreeView::Split {
            column,
            category,
            threshold,
            left,
            right,
            ..
        } => {
            let column = encode::terminal(column);
            let (l, r) = match category {
                Some(v) => {
                    let v = encode::terminal(v);
                    (format!("{column} ≠ {v}"), format!("{column} = {v}"))
                }
                None => (
                    format!("{column} ≤ {threshold}"),
                    format!("{column} > {threshold}"),
                ),
            };
            let _ = writeln!(out, "{pad}if {l}:");
            draw(left, depth + 1, out);
            let _ = writeln!(out, "{pad}if {r}:");
            draw(right, depth + 1, out);
        }
    }
}

/// The tree as indented terminal text: `if column ≤ t:` / `→ arm` lines.
pub fn tree_text(t: &TreeView) -> String {
    let mut s = String::new();
    draw(t, 0, &mut s);
    s
}

/// The report as terminal text.
pub fn render(r: &UpliftReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} units ({} for learning, reported on the {}: {} units); metric `{}`, value {} per unit, cost {} per treated unit",
        r.train_units + if r.reported_on == "test part" { r.report_units } else { 0 },
        r.train_units,
        r.reported_on,
        r.report_units,
        encode::terminal(&r.metric),
        r.value_per_unit,
        r.cost_per_treated
    );
    let _ = writeln!(
        s,
        "arms: {}; {} folds, seed {}, tree depth ≤ {}, ≥ {} units per leaf",
        r.arms
            .iter()
            .map(|a| format!(
                "{} ({} units, p = {:.4})",
                encode::terminal(&a.name),
                a.train_units,
                a.propensity
            ))
            .collect::<Vec<_>>()
            .join(", "),
        r.folds,
        r.seed,
        r.depth,
        r.min_leaf
    );
    let _ = writeln!(s, "policy tree:");
    draw(&r.tree, 0, &mut s);
    let level = format!("{:.0}%", (1.0 - r.alpha) * 100.0);
    let _ = writeln!(
        s,
        "value per unit on the {} ({level} intervals):",
        r.reported_on
    );
    for v in r.values.iter().chain(&r.gains) {
        let _ = writeln!(
            s,
            "  {:<36} {} {}",
            encode::terminal(&v.name),
            num(v.value.estimate),
            super::shown_interval(&v.value.ci)
        );
    }
    let _ = writeln!(
        s,
        "  {:<36} {} (same data it was chosen on: optimistic)",
        "policy_tree, in sample",
        num(r.same_data_value)
    );
    for k in &r.rankings {
        let _ = writeln!(
            s,
            "ranking of `{}` vs `{}` ({} units, {}, trees of depth {}): qini_auc {}, uplift_auc {}, uplift@30% by_group {}, overall {}",
            encode::terminal(&k.arm),
            encode::terminal(&r.control),
            k.units,
            match r.ranker {
                super::Ranker::TLearner => "t-learner",
                super::Ranker::DrLearner => "dr-learner",
            },
            r.model_depth,
            opt(k.qini_auc),
            opt(k.uplift_auc),
            opt(k.uplift_at_30_by_group),
            opt(k.uplift_at_30_overall)
        );
        for t in &k.top_shares {
            let _ = writeln!(
                s,
                "  top {:>3.0}% by predicted uplift, gain over random targeting: {} {}",
                t.share * 100.0,
                num(t.gain_over_random.estimate),
                super::shown_interval(&t.gain_over_random.ci)
            );
        }
        let _ = writeln!(s, "  decile   n_t    n_c    uplift");
        for d in &k.deciles {
            let _ = writeln!(
                s,
                "  {:<7} {:>5} {:>6}  {}",
                d.percentile,
                d.n_treatment,
                d.n_control,
                d.uplift
                    .map_or_else(|| "n/a".into(), |u| format!("{u:+.4}"))
            );
        }
    }
    let _ = writeln!(
        s,
        "recommend: {} ({})",
        encode::terminal(&r.decision.recommend),
        r.decision.reason
    );
    s
}

/// `--scores`: `row` (0-based position in the input), `uplift_<arm>` per
/// treatment arm (predicted outcome under the arm minus under the control),
/// `policy_arm`.
pub fn write_scores(r: &UpliftReport, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["row".to_string()];
    header.extend(
        r.arms
            .iter()
            .skip(1)
            .map(|a| encode::csv_cell(&format!("uplift_{}", a.name)).into_owned()),
    );
    header.push("policy_arm".into());
    w.write_record(&header)?;
    for ScoreRow {
        row,
        uplift,
        policy_arm,
    } in &r.scores
    {
        let mut rec = vec![row.to_string()];
        rec.extend(uplift.iter().map(|u| format!("{u}")));
        rec.push(encode::csv_cell(&r.arms[*policy_arm].name).into_owned());
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}
