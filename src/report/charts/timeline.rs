//! Cumulative incremental revenue by entry date, with the confidence sequence.

use super::draw::*;
use super::{confidence, Chart, Layout, Section};
use crate::report::format as f;
use crate::report::timeline::{Timeline, TimelinePoint};
use crate::report::Summary;
use crate::stats::Interval;
use anyhow::Result;
use plotters::prelude::{ChartBuilder, Circle, Color, LineSeries, PathElement, Polygon, RGBColor};
use plotters::style::text_anchor::{HPos, VPos};

const TITLE: &str = "Cumulative incremental revenue by entry date";

pub fn cumulative(summary: &Summary) -> Result<Option<Chart>> {
    let lines: Vec<&Timeline> = summary
        .timeline
        .iter()
        .filter(|t| t.points.iter().any(|p| p.incremental_revenue.is_some()))
        .collect();
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let Some(start) = first.points.first().and_then(|p| day(&p.date)) else {
        return Ok(None);
    };
    let chart = Chart::new(
        "cumulative_incremental_revenue",
        Section::Timeline,
        "Cumulative incremental revenue by entry date with its confidence sequence",
        |layout| draw(summary, &lines, start, layout),
    )?;
    Ok(Some(chart))
}

/// Days since the epoch of an ISO date.
fn day(iso: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok()?;
    Some(date.signed_duration_since(epoch()).num_days())
}

fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(chrono::NaiveDate::MIN)
}

/// Contiguous runs of computable points as (day offset, value, band).
fn runs(points: &[TimelinePoint], start: i64) -> Vec<Vec<(f64, f64, Interval)>> {
    let mut out: Vec<Vec<(f64, f64, Interval)>> = vec![Vec::new()];
    for p in points {
        match (p.incremental_revenue, p.sequential_ci, day(&p.date)) {
            (Some(v), Some(ci), Some(d)) => {
                if let Some(run) = out.last_mut() {
                    run.push(((d - start) as f64, v, ci));
                }
            }
            _ => out.push(Vec::new()),
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn keys(lines: &[&Timeline], start: i64, sym: &str) -> Vec<Key> {
    let several = lines.len() > 1;
    let mut keys = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let color = ARMS[k % ARMS.len()];
        let prefix = if several {
            format!("{}: ", line.treatment)
        } else {
            String::new()
        };
        keys.push(Key::line(
            color,
            format!("{prefix}incremental revenue so far"),
        ));
        if let Some(&(_, _, ci)) = runs(&line.points, start).last().and_then(|r| r.last()) {
            keys.push(Key::square(
                band_color(k),
                format!(
                    "{prefix}confidence sequence, now {} to {}",
                    f::money(ci.lower, sym, 0),
                    f::money(ci.upper, sym, 0)
                ),
            ));
        }
    }
    keys
}

fn band_color(k: usize) -> RGBColor {
    if k == 0 {
        BAND
    } else {
        tint(ARMS[k % ARMS.len()], 0.25)
    }
}

fn draw(summary: &Summary, lines: &[&Timeline], start: i64, layout: Layout) -> Result<String> {
    let sym = f::symbol(&summary.currency);
    let subtitle = format!(
        "Shaded: {}% confidence sequence, valid however often it is looked at",
        confidence(summary)
    );
    let all: Vec<Vec<Vec<(f64, f64, Interval)>>> =
        lines.iter().map(|t| runs(&t.points, start)).collect();
    let points = all.iter().flatten().flatten();
    let last_day = points.clone().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let (lo, hi) = points.fold((0.0f64, 0.0f64), |(lo, hi), p| {
        (lo.min(p.2.lower), hi.max(p.2.upper))
    });
    let (y0, y1) = span_with_zero(lo, hi, 0.06);
    let keys = keys(lines, start, &sym);
    let head = header_height(layout, TITLE, &subtitle);
    let legend_h = legend_height(layout, &keys, 24);
    let height = (head + legend_h) as u32 + if layout == Layout::Wide { 360 } else { 300 };
    let label_of = |x: &f64| {
        let d = epoch() + chrono::Days::new((start + x.round() as i64).max(0) as u64);
        f::short_date(&d.format("%Y-%m-%d").to_string())
    };
    svg((layout.width(), height), |root| {
        header(root, layout, TITLE, &subtitle)?;
        legend(root, layout, &keys, (24, head + 6))?;
        let mut chart = ChartBuilder::on(root)
            .margin_top((head + legend_h) as u32 + 12)
            .margin_left(8)
            .margin_right(if layout == Layout::Wide { 36 } else { 20 })
            .margin_bottom(8)
            .x_label_area_size(40)
            .y_label_area_size(if layout == Layout::Wide { 84 } else { 66 })
            .build_cartesian_2d(-0.5..last_day + 0.5, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(if layout == Layout::Wide { 8 } else { 4 })
            .y_labels(if layout == Layout::Wide { 7 } else { 5 })
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(axis_labels())
            .x_label_formatter(&label_of)
            .y_label_formatter(&|y| f::money_compact(*y, &sym))
            .draw()?;
        for (k, runs) in all.iter().enumerate() {
            for run in runs {
                let mut poly: Vec<(f64, f64)> = run.iter().map(|p| (p.0, p.2.upper)).collect();
                poly.extend(run.iter().rev().map(|p| (p.0, p.2.lower)));
                chart.draw_series(std::iter::once(Polygon::new(poly, band_color(k).filled())))?;
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (last_day + 0.5, 0.0)],
            MUTED.stroke_width(1),
        )))?;
        for (k, runs) in all.iter().enumerate() {
            let color = ARMS[k % ARMS.len()];
            for run in runs {
                chart.draw_series(LineSeries::new(
                    run.iter().map(|p| (p.0, p.1)),
                    color.stroke_width(3),
                ))?;
            }
            if let Some(&(x, v, _)) = runs.last().and_then(|r| r.last()) {
                chart.draw_series(std::iter::once(Circle::new((x, v), 5, color.filled())))?;
                let (px, py) = chart.backend_coord(&(x, v));
                text(
                    root,
                    &f::money(v, &sym, 0),
                    (px - 8, py - 12),
                    bold(LABEL, INK, HPos::Right, VPos::Bottom),
                )?;
            }
        }
        Ok(())
    })
}
