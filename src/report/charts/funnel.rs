//! Messages per step: the flow's sent, opened, clicked and converted, with
//! the holdout's suppressed messages (and its orders anyway) beside.

use super::draw::*;
use super::{Chart, Layout, Section};
use crate::report::format as f;
use crate::report::funnel::StepFunnel;
use crate::report::Summary;
use anyhow::Result;
use plotters::prelude::{ChartBuilder, Color, RGBColor, Rectangle};
use plotters::style::text_anchor::{HPos, VPos};

const TITLE: &str = "Messages per step";
const SUBTITLE: &str =
    "Sent, opened, clicked and followed by the entry's order; beside them, the holdout's suppressed messages and its orders anyway";

struct Series {
    label: String,
    color: RGBColor,
    arm: String,
    value: fn(&StepFunnel) -> u64,
}

/// Treatment arms first (four bars each), then the holdout (two).
fn series(summary: &Summary) -> Vec<Series> {
    let several = summary.headline.len() > 1;
    let mut arms: Vec<(&str, bool)> = Vec::new();
    for row in &summary.funnel {
        if !arms.iter().any(|(a, _)| *a == row.arm) {
            arms.push((&row.arm, row.holdout));
        }
    }
    arms.sort_by_key(|(_, holdout)| *holdout);
    let mut out = Vec::new();
    for (arm, holdout) in arms {
        let prefix = if several || holdout {
            format!("{arm} ")
        } else {
            String::new()
        };
        let mut add = |label: &str, color: RGBColor, value: fn(&StepFunnel) -> u64| {
            out.push(Series {
                label: format!("{prefix}{label}"),
                color,
                arm: arm.to_string(),
                value,
            })
        };
        if holdout {
            add("suppressed", GRAY, |r| r.suppressed);
            add("converted anyway", SLATE, |r| r.converted_after_suppressed);
        } else {
            add("sent", NAVY, |r| r.sent);
            add("opened", BLUE, |r| r.opened);
            add("clicked", SKY, |r| r.clicked);
            add("converted after", GREEN, |r| r.converted_after_send);
        }
    }
    out
}

pub fn funnel(summary: &Summary) -> Result<Option<Chart>> {
    let mut steps: Vec<Option<i32>> = summary.funnel.iter().map(|r| r.step).collect();
    steps.sort_by_key(|s| (s.is_none(), *s));
    steps.dedup();
    if steps.is_empty() {
        return Ok(None);
    }
    let series = series(summary);
    let chart = Chart::new(
        "step_funnel",
        Section::Funnel,
        "Messages sent, opened, clicked and converted per step, with the holdout's suppressed messages",
        |layout| draw(summary, &steps, &series, layout),
    )?;
    Ok(Some(chart))
}

fn value_of(summary: &Summary, s: &Series, step: Option<i32>) -> u64 {
    summary
        .funnel
        .iter()
        .find(|r| r.arm == s.arm && r.step == step)
        .map_or(0, s.value)
}

fn draw(
    summary: &Summary,
    steps: &[Option<i32>],
    series: &[Series],
    layout: Layout,
) -> Result<String> {
    let top = steps
        .iter()
        .flat_map(|&st| series.iter().map(move |s| value_of(summary, s, st)))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let keys: Vec<Key> = series
        .iter()
        .map(|s| Key::square(s.color, s.label.clone()))
        .collect();
    let head = header_height(layout, TITLE, SUBTITLE);
    let legend_h = legend_height(layout, &keys, 24);
    let height = (head + legend_h) as u32 + 360;
    let k = steps.len();
    svg((layout.width(), height), |root| {
        header(root, layout, TITLE, SUBTITLE)?;
        legend(root, layout, &keys, (24, head + 6))?;
        let mut chart = ChartBuilder::on(root)
            .margin_top((head + legend_h) as u32 + 16)
            .margin_left(8)
            .margin_right(16)
            .margin_bottom(8)
            .x_label_area_size(40)
            .y_label_area_size(if layout == Layout::Wide { 76 } else { 60 })
            .build_cartesian_2d(-0.5..(k as f64 - 0.5), 0.0..top * 1.06)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(axis_labels())
            .y_label_formatter(&|y| f::count(y.max(0.0) as u64))
            .draw()?;
        // A gap between the flow's bars and the holdout's.
        let slots = series.len() as f64 + 0.5;
        let width = 0.86 / slots;
        for (g, &step) in steps.iter().enumerate() {
            let mut x = g as f64 - 0.43;
            for (j, s) in series.iter().enumerate() {
                if j > 0 && series[j - 1].arm != s.arm {
                    x += width * 0.5;
                }
                let v = value_of(summary, s, step) as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x + width * 0.06, 0.0), (x + width * 0.94, v)],
                    s.color.filled(),
                )))?;
                x += width;
            }
            let (px, py) = chart.backend_coord(&(g as f64, 0.0));
            text(
                root,
                &f::step(step),
                (px, py + 12),
                style(LABEL, INK, HPos::Center, VPos::Top),
            )?;
        }
        Ok(())
    })
}
