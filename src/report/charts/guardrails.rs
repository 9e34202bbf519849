//! Unsubscribe and complaint rates per message, per step, against the
//! configured thresholds.

use super::draw::*;
use super::{confidence, Chart, Layout, Section};
use crate::report::format as f;
use crate::report::funnel::RateCheck;
use crate::report::Summary;
use anyhow::Result;
use plotters::chart::ChartContext;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::{Cartesian2d, ChartBuilder, Color, PathElement, Rectangle, SVGBackend};
use plotters::style::text_anchor::{HPos, VPos};

const TITLE: &str = "Guardrails per step";
const PANEL: u32 = 330;

pub fn per_step(summary: &Summary) -> Result<Option<Chart>> {
    if summary.guardrails.is_empty() {
        return Ok(None);
    }
    let chart = Chart::new(
        "guardrails",
        Section::Guardrails,
        "Unsubscribe and complaint rate per message for each step against the thresholds",
        |layout| draw(summary, layout),
    )?;
    Ok(Some(chart))
}

fn draw(summary: &Summary, layout: Layout) -> Result<String> {
    let rows = &summary.guardrails;
    let several = summary.headline.len() > 1;
    // Each bar's label: its step, with its arm on the line above when the
    // report has several treatments.
    let labels: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            if several {
                vec![r.arm.clone(), f::step(r.step)]
            } else {
                vec![f::step(r.step)]
            }
        })
        .collect();
    let subtitle = format!(
        "Rate per message sent, with its {}% Wilson interval; dashed red line: the configured threshold",
        confidence(summary)
    );
    let head = header_height(layout, TITLE, &subtitle);
    let unsub: Vec<_> = rows.iter().map(|r| r.unsubscribe.as_ref()).collect();
    let complaints: Vec<_> = rows.iter().map(|r| r.complaint.as_ref()).collect();
    svg((layout.width(), head as u32 + 2 * PANEL), |root| {
        header(root, layout, TITLE, &subtitle)?;
        let body = root.margin(head as u32, 0, 0, 0);
        let panels = body.split_evenly((2, 1));
        panel(&panels[0], "Unsubscribes per message", &labels, &unsub)?;
        panel(
            &panels[1],
            "Spam complaints per message",
            &labels,
            &complaints,
        )
    })
}

fn panel(
    area: &Area,
    title: &str,
    labels: &[Vec<String>],
    checks: &[Option<&RateCheck>],
) -> Result<()> {
    let k = labels.len();
    let threshold = checks
        .iter()
        .flatten()
        .map(|c| c.threshold)
        .fold(0.0, f64::max);
    let top = checks
        .iter()
        .flatten()
        .map(|c| c.ci.map_or(c.rate_per_message, |ci| ci.upper))
        .fold(threshold, f64::max)
        .max(1e-6)
        * 100.0
        * 1.18;
    let (bx, by) = area.get_base_pixel();
    let heading = format!("{title} (threshold {})", f::percent(threshold, 2));
    text(
        area,
        &heading,
        (bx + 20, by + 8),
        bold(LABEL, INK, HPos::Left, VPos::Top),
    )?;
    let mut chart = ChartBuilder::on(area)
        .margin_top(44)
        .margin_left(8)
        .margin_right(16)
        .margin_bottom(8)
        .x_label_area_size(16 + 20 * labels.iter().map(Vec::len).max().unwrap_or(1) as u32)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(k as f64 - 0.5), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(5)
        .max_light_lines(0)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(axis_labels())
        .y_label_formatter(&|y| format!("{y:.2}%"))
        .draw()?;
    // Each label fits the width of its bar's slot (arm names can be long).
    let slot = if k > 1 {
        chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0
    } else {
        area.dim_in_pixel().0 as i32 - 100
    };
    for (i, check) in checks.iter().enumerate() {
        let x = i as f64;
        let (px, base) = chart.backend_coord(&(x, 0.0));
        for (j, line) in labels[i].iter().enumerate() {
            text(
                area,
                &elide(line, LABEL, slot - 20),
                (px, base + 8 + 20 * j as i32),
                style(LABEL, INK, HPos::Center, VPos::Top),
            )?;
        }
        if let Some(c) = check {
            rate_bar(&mut chart, area, x, c)?;
        }
    }
    chart.draw_series(std::iter::once(DashedPathElement::new(
        vec![
            (-0.5, threshold * 100.0),
            (k as f64 - 0.5, threshold * 100.0),
        ],
        8,
        6,
        RED.stroke_width(2),
    )))?;
    Ok(())
}

type Panel<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One step's bar, its interval and its rate written above.
fn rate_bar(chart: &mut Panel, area: &Area, x: f64, c: &RateCheck) -> Result<()> {
    let rate = c.rate_per_message * 100.0;
    let color = if c.breached { RED } else { BLUE };
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x - 0.22, 0.0), (x + 0.22, rate)],
        color.filled(),
    )))?;
    let mut label_at = rate;
    if let Some(ci) = c.ci {
        let (lo, hi) = (ci.lower * 100.0, ci.upper * 100.0);
        label_at = hi;
        chart.draw_series([
            PathElement::new(vec![(x, lo), (x, hi)], INK.stroke_width(2)),
            PathElement::new(vec![(x - 0.06, lo), (x + 0.06, lo)], INK.stroke_width(2)),
            PathElement::new(vec![(x - 0.06, hi), (x + 0.06, hi)], INK.stroke_width(2)),
        ])?;
    }
    let (px, py) = chart.backend_coord(&(x, label_at));
    text(
        area,
        &f::percent(c.rate_per_message, 2),
        (px, py - 6),
        style(SMALL, INK, HPos::Center, VPos::Bottom),
    )
}
