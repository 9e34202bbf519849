//! The learned policy (`uplift` on the carts): its tree drawn as an outline
//! of conditions ending in the arm each leaf sends, the value of every
//! candidate and the chosen tree's gains with their intervals, and the Qini
//! curve of each treatment arm against the holdout.

use super::draw::*;
use super::{Chart, Layout, Section};
use crate::report::Summary;
use crate::uplift::{TreeView, UpliftReport};
use anyhow::Result;
use plotters::element::DashedPathElement;
use plotters::prelude::{ChartBuilder, Color, LineSeries, PathElement, Rectangle};
use plotters::style::text_anchor::{HPos, VPos};

/// Every chart of the learned policy, when the report has one.
pub fn learned(summary: &Summary) -> Result<Vec<Chart>> {
    let Some(p) = &summary.learned_policy else {
        return Ok(Vec::new());
    };
    let mut charts = vec![Chart::new(
        "policy_tree",
        Section::Policy,
        "The learned policy tree: the conditions on what is known at abandonment and the arm each leaf sends",
        |layout| tree(p, layout),
    )?];
    let confidence = format!("{:.0}", (1.0 - p.alpha) * 100.0);
    charts.push(super::lift::labelled(
        summary,
        "policy_values",
        &format!("Net contribution per entry of each candidate policy with its {confidence}% interval"),
        "Net contribution per entry of each candidate",
        Some("Valued out of sample (held-out folds), with its confidence interval: the learned tree first, then each arm for every entry."),
        p.values
            .iter()
            .map(|v| (v.name.clone(), v.value.estimate, v.value.ci))
            .collect(),
    )?);
    charts.push(super::lift::labelled(
        summary,
        "policy_gains",
        &format!("The learned tree's gain per entry over the holdout, the best single arm and today's arm, with {confidence}% intervals"),
        "The learned tree's gain per entry",
        None,
        p.gains
            .iter()
            .map(|v| (v.name.replace('_', " "), v.value.estimate, v.value.ci))
            .collect(),
    )?);
    if p.rankings.iter().any(|r| r.qini_curve.len() >= 2) {
        charts.push(Chart::new(
            "policy_qini",
            Section::Policy,
            "Qini curve of each treatment arm against the holdout beside random targeting",
            |layout| qini(p, &summary.currency, layout),
        )?);
    }
    Ok(charts)
}

/// One line of the outline: a condition (with the arm when the branch ends
/// in a leaf), or the root.
struct Line {
    depth: usize,
    text: String,
    arm: Option<String>,
}

/// A threshold as people read it: at most two decimals (the flow file
/// keeps the exact value).
fn short(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn outline(t: &TreeView, depth: usize, out: &mut Vec<Line>) {
    if let TreeView::Split {
        column,
        category,
        threshold,
        left,
        right,
        ..
    } = t
    {
        let (l, r) = match category {
            Some(v) => (format!("{column} ≠ {v}"), format!("{column} = {v}")),
            None => (
                format!("{column} ≤ {}", short(*threshold)),
                format!("{column} > {}", short(*threshold)),
            ),
        };
        for (text, child) in [(l, left), (r, right)] {
            match child.as_ref() {
                TreeView::Leaf { arm } => out.push(Line {
                    depth,
                    text,
                    arm: Some(arm.clone()),
                }),
                split => {
                    out.push(Line {
                        depth,
                        text,
                        arm: None,
                    });
                    outline(split, depth + 1, out);
                }
            }
        }
    }
}

fn arm_color(p: &UpliftReport, arm: &str) -> plotters::style::RGBColor {
    match p.arms.iter().position(|a| a.name == arm) {
        Some(0) => GRAY,
        Some(i) => ARMS[(i - 1) % ARMS.len()],
        None => SLATE,
    }
}

fn tree(p: &UpliftReport, layout: Layout) -> Result<String> {
    const TITLE: &str = "The learned policy";
    let subtitle = format!(
        "Each entry follows the conditions from the top and is sent the arm of its leaf ({}). Thresholds rounded; recommended_flow.toml keeps them exact.",
        p.decision.recommend.replace('_', " ")
    );
    let mut lines = Vec::new();
    match &p.tree {
        TreeView::Leaf { arm } => lines.push(Line {
            depth: 0,
            text: "every entry".into(),
            arm: Some(arm.clone()),
        }),
        t => {
            lines.push(Line {
                depth: 0,
                text: "every entry".into(),
                arm: None,
            });
            outline(t, 1, &mut lines);
        }
    }
    let narrow = layout == Layout::Narrow;
    let indent = if narrow { 22 } else { 40 };
    // On a phone a leaf's arm goes on the line below its condition.
    let row = if narrow { 56 } else { 38 };
    let head = header_height(layout, TITLE, &subtitle);
    let top = head + 16;
    let height = top + row * lines.len() as i32 + 16;
    svg((layout.width(), height as u32), |root| {
        header(root, layout, TITLE, &subtitle)?;
        // Where each depth's last line was, for the elbow to its parent.
        let mut parent_y: Vec<i32> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let y = top + row * i as i32 + 12;
            let x = 24 + indent * line.depth as i32;
            if line.depth > 0 {
                let px = 24 + indent * (line.depth as i32 - 1) + 6;
                let py = parent_y.get(line.depth - 1).copied().unwrap_or(top);
                root.draw(&PathElement::new(
                    vec![(px, py + 10), (px, y), (x - 6, y)],
                    AXIS.stroke_width(2),
                ))?;
            }
            parent_y.truncate(line.depth);
            parent_y.push(y);
            let style_of = if line.depth == 0 { bold } else { style };
            let right = layout.width() as i32 - 16;
            // Room for the condition: the whole line on a phone (the arm goes
            // below), else what the arm's box (at most a third) leaves.
            let arm_room = (layout.width() as i32 / 3).min(
                line.arm
                    .as_ref()
                    .map_or(0, |a| text_width(&format!("→ {a}"), LABEL) * 6 / 5 + 42),
            );
            let condition = elide(
                &line.text,
                LABEL,
                right - x - if narrow { 0 } else { arm_room },
            );
            text(
                root,
                &condition,
                (x, y),
                style_of(LABEL, INK, HPos::Left, VPos::Center),
            )?;
            if let Some(arm) = &line.arm {
                let (ax, ay) = if narrow {
                    (x + 8, y + 24)
                } else {
                    (x + text_width(&condition, LABEL) + 18, y)
                };
                let label = elide(&format!("→ {arm}"), LABEL, (right - ax - 24) * 5 / 6);
                let w = text_width(&label, LABEL) * 6 / 5 + 24;
                let color = arm_color(p, arm);
                root.draw(&Rectangle::new(
                    [(ax, ay - 14), (ax + w, ay + 14)],
                    tint(color, 0.2).filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [(ax, ay - 14), (ax + w, ay + 14)],
                    color.stroke_width(2),
                ))?;
                text(
                    root,
                    &label,
                    (ax + 10, ay),
                    bold(LABEL, INK, HPos::Left, VPos::Center),
                )?;
            }
        }
        Ok(())
    })
}

fn qini(p: &UpliftReport, currency: &str, layout: Layout) -> Result<String> {
    const TITLE: &str = "Qini curves on held-out units";
    let subtitle = format!(
        "Incremental {} when the top share of units by predicted uplift is treated, for each arm against {}; dashed: the same share chosen at random.",
        if p.metric == crate::uplift::carts::OUTCOME {
            format!("net contribution ({currency})")
        } else {
            format!("`{}`", p.metric)
        },
        p.control
    );
    let curves: Vec<(usize, &crate::uplift::Ranking)> = p
        .rankings
        .iter()
        .enumerate()
        .filter(|(_, r)| r.qini_curve.len() >= 2)
        .collect();
    let share = |r: &crate::uplift::Ranking, x: f64| {
        let n = r.qini_curve.last().map_or(1.0, |l| l.0).max(1.0);
        x / n
    };
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for (_, r) in &curves {
        for &(_, y) in &r.qini_curve {
            if y.is_finite() {
                lo = lo.min(y);
                hi = hi.max(y);
            }
        }
    }
    let (y0, y1) = span_with_zero(lo, hi, 0.08);
    let keys: Vec<Key> = curves
        .iter()
        .map(|(i, r)| Key::line(ARMS[i % ARMS.len()], r.arm.clone()))
        .collect();
    let head = header_height(layout, TITLE, &subtitle);
    let legend_at = head + 4;
    let legend_h = legend_height(layout, &keys, 20);
    let top = legend_at + legend_h + 8;
    let plot = if layout == Layout::Narrow { 260 } else { 360 };
    svg((layout.width(), (top + plot + 60) as u32), |root| {
        header(root, layout, TITLE, &subtitle)?;
        legend(root, layout, &keys, (20, legend_at))?;
        let mut chart = ChartBuilder::on(root)
            .margin_top(top as u32)
            .margin_left(12)
            .margin_right(24)
            .margin_bottom(8)
            .x_label_area_size(44)
            .y_label_area_size(if layout == Layout::Narrow { 56 } else { 80 })
            .build_cartesian_2d(0.0..1.0, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(if layout == Layout::Narrow { 3 } else { 6 })
            .y_labels(5)
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(axis_labels())
            .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (i, r) in &curves {
            let color = ARMS[i % ARMS.len()];
            let points: Vec<(f64, f64)> = r
                .qini_curve
                .iter()
                .filter(|(_, y)| y.is_finite())
                .map(|&(x, y)| (share(r, x), y))
                .collect();
            let end = points.last().copied().unwrap_or((1.0, 0.0));
            chart.draw_series(std::iter::once(DashedPathElement::new(
                vec![(0.0, 0.0), end],
                6,
                4,
                color.stroke_width(2),
            )))?;
            chart.draw_series(LineSeries::new(points, color.stroke_width(3)))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_shown_short() {
        assert_eq!(short(70.0994212962963), "70.1");
        assert_eq!(short(60.75), "60.75");
        assert_eq!(short(3.0), "3");
        assert_eq!(short(-0.5), "-0.5");
    }

    #[test]
    fn the_outline_lists_every_path() {
        let leaf = |a: &str| Box::new(TreeView::Leaf { arm: a.into() });
        let t = TreeView::Split {
            feature: "prior_orders".into(),
            column: "prior_orders".into(),
            category: None,
            threshold: 0.5,
            left: leaf("discount"),
            right: Box::new(TreeView::Split {
                feature: "customer_status=new".into(),
                column: "customer_status".into(),
                category: Some("new".into()),
                threshold: 0.0,
                left: leaf("reminders"),
                right: leaf("holdout"),
            }),
        };
        let mut lines = Vec::new();
        outline(&t, 1, &mut lines);
        let shown: Vec<(usize, &str, Option<&str>)> = lines
            .iter()
            .map(|l| (l.depth, l.text.as_str(), l.arm.as_deref()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (1, "prior_orders ≤ 0.5", Some("discount")),
                (1, "prior_orders > 0.5", None),
                (2, "customer_status ≠ new", Some("reminders")),
                (2, "customer_status = new", Some("holdout")),
            ]
        );
    }
}
