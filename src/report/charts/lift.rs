//! Forest plots: each segment's difference (flow − holdout) with its interval.

use super::draw::*;
use super::{confidence, Chart, Layout, Section};
use crate::lift::LiftResult;
use crate::report::format as f;
use crate::report::Summary;
use crate::stats::Interval;
use anyhow::Result;
use plotters::prelude::{ChartBuilder, Circle, Color, PathElement};
use plotters::style::text_anchor::{HPos, VPos};

pub struct ForestSpec {
    metric: &'static str,
    title: &'static str,
    /// Proportions are shown in percentage points.
    points: bool,
    /// The explanation under the title (default: a difference's).
    subtitle: Option<&'static str>,
}

pub const FOREST: [ForestSpec; 3] = [
    ForestSpec {
        metric: "revenue_per_recipient",
        title: "Revenue per recipient: flow minus holdout",
        points: false,
        subtitle: None,
    },
    ForestSpec {
        metric: "net_contribution_per_recipient",
        title: "Net contribution per recipient: flow minus holdout",
        points: false,
        subtitle: None,
    },
    ForestSpec {
        metric: "conversion_rate",
        title: "Conversion rate: flow minus holdout",
        points: true,
        subtitle: None,
    },
];

/// A forest of labelled money intervals, drawn like the lift forests (the
/// first row in bold): the learned policy's candidates and gains.
pub(super) fn labelled(
    summary: &Summary,
    name: &str,
    alt: &str,
    title: &'static str,
    subtitle: Option<&'static str>,
    rows: Vec<(String, f64, Interval)>,
) -> Result<Chart> {
    let spec = ForestSpec {
        metric: "",
        title,
        points: false,
        subtitle,
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(label, estimate, ci)| Row {
            label,
            estimate,
            ci,
        })
        .collect();
    Chart::new(name, super::Section::Policy, alt, |layout| {
        draw(summary, &spec, &rows, layout)
    })
}

struct Row {
    label: String,
    estimate: f64,
    ci: Interval,
}

fn rows(summary: &Summary, spec: &ForestSpec) -> Vec<Row> {
    let several = summary.headline.len() > 1;
    let scale = if spec.points { 100.0 } else { 1.0 };
    let results = summary
        .lift
        .results
        .iter()
        .filter(|r| r.metric == spec.metric);
    f::reading_order(results)
        .into_iter()
        .filter_map(|r: &LiftResult| {
            let a = r.absolute.as_ref()?;
            let seg = f::segment(&r.segment);
            Some(Row {
                label: if several {
                    format!("{}: {seg}", r.treatment)
                } else {
                    seg
                },
                estimate: a.estimate * scale,
                ci: Interval {
                    lower: a.ci.lower * scale,
                    upper: a.ci.upper * scale,
                },
            })
        })
        .collect()
}

pub fn forest(summary: &Summary, spec: &ForestSpec) -> Result<Option<Chart>> {
    let rows = rows(summary, spec);
    if rows.is_empty() {
        return Ok(None);
    }
    let chart = Chart::new(
        format!("lift_{}", spec.metric),
        Section::Lift,
        format!("{} by segment, with confidence intervals", spec.title),
        |layout| draw(summary, spec, &rows, layout),
    )?;
    Ok(Some(chart))
}

/// Geometry of one layout: where labels and values go.
struct Frame {
    row: u32,
    left: u32,
    right: u32,
    /// Labels and values above each interval instead of beside it.
    stacked: bool,
}

fn frame(layout: Layout) -> Frame {
    match layout {
        Layout::Wide => Frame {
            row: 36,
            left: 230,
            right: 220,
            stacked: false,
        },
        Layout::Narrow => Frame {
            row: 58,
            left: 20,
            right: 24,
            stacked: true,
        },
    }
}

fn draw(summary: &Summary, spec: &ForestSpec, rows: &[Row], layout: Layout) -> Result<String> {
    let sym = f::symbol(&summary.currency);
    let value = |x: f64| {
        if spec.points {
            format!("{x:+.2}")
        } else {
            f::signed_money(x, &sym, 2)
        }
    };
    let shown = |r: &Row| {
        let unit = if spec.points { " pp" } else { "" };
        format!(
            "{}{unit}  [{}, {}]",
            value(r.estimate),
            value(r.ci.lower),
            value(r.ci.upper)
        )
    };
    let subtitle = match spec.subtitle {
        Some(s) => s.to_string(),
        None => format!(
            "Difference with its {}% confidence interval. Blue: above zero; red: below; gray: cannot tell.",
            confidence(summary)
        ),
    };
    let fr = frame(layout);
    let n = rows.len();
    let head = header_height(layout, spec.title, &subtitle);
    let top = head as u32 + if fr.stacked { 28 } else { 12 };
    let height = top + n as u32 * fr.row + 52;
    let lo = rows
        .iter()
        .map(|r| r.ci.lower)
        .fold(f64::INFINITY, f64::min);
    let hi = rows
        .iter()
        .map(|r| r.ci.upper)
        .fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = span_with_zero(lo, hi, 0.06);
    let width = layout.width();
    svg((width, height), |root| {
        header(root, layout, spec.title, &subtitle)?;
        let mut chart = ChartBuilder::on(root)
            .margin_top(top)
            .margin_left(fr.left)
            .margin_right(fr.right)
            .margin_bottom(8)
            .x_label_area_size(44)
            .build_cartesian_2d(x0..x1, -0.6..(n as f64 - 0.4))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(if fr.stacked { 4 } else { 6 })
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(axis_labels())
            .x_label_formatter(&|x| {
                if spec.points {
                    format!("{x:+.0} pp")
                } else {
                    f::money_compact(*x, &sym)
                }
            })
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.6), (0.0, n as f64 - 0.4)],
            MUTED.stroke_width(1),
        )))?;
        for (i, row) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let color = if row.ci.lower > 0.0 {
                BLUE
            } else if row.ci.upper < 0.0 {
                RED
            } else {
                GRAY
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(row.ci.lower, y), (row.ci.upper, y)],
                color.stroke_width(3),
            )))?;
            chart.draw_series(std::iter::once(Circle::new(
                (row.estimate, y),
                6,
                color.filled(),
            )))?;
            let (_, py) = chart.backend_coord(&(x0, y));
            let label_style = if i == 0 { bold } else { style };
            let (label_at, value_at, h) = if fr.stacked {
                ((20, py - 22), (width as i32 - 20, py - 22), HPos::Left)
            } else {
                (
                    (fr.left as i32 - 10, py),
                    (width as i32 - 12, py),
                    HPos::Right,
                )
            };
            let room = if fr.stacked {
                width as i32 - 40 - text_width(&shown(row), SMALL) - 12
            } else {
                fr.left as i32 - 18
            };
            text(
                root,
                &elide(&row.label, LABEL, room),
                label_at,
                label_style(LABEL, INK, h, VPos::Center),
            )?;
            text(
                root,
                &shown(row),
                value_at,
                style(SMALL, INK, HPos::Right, VPos::Center),
            )?;
        }
        Ok(())
    })
}
