//! Data quality: rows quarantined, by reason.

use super::draw::*;
use super::{Chart, Layout, Section};
use crate::report::format as f;
use crate::report::Summary;
use anyhow::Result;
use plotters::prelude::{ChartBuilder, Color, Rectangle};
use plotters::style::text_anchor::{HPos, VPos};

const TITLE: &str = "Data quality";

pub fn data_quality(summary: &Summary) -> Result<Chart> {
    Chart::new(
        "data_quality",
        Section::DataQuality,
        "Rows quarantined by reason",
        |layout| draw(summary, layout),
    )
}

fn draw(summary: &Summary, layout: Layout) -> Result<String> {
    let ingest = &summary.ingest;
    let mut reasons: Vec<(String, u64)> = ingest
        .quarantined_by_reason
        .iter()
        .map(|(r, &n)| (r.replace('_', " "), n))
        .collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let subtitle = format!(
        "Read {}, accepted {}, quarantined {}: the rows set aside, by reason",
        f::count(ingest.read),
        f::count(ingest.accepted),
        f::count(ingest.quarantined)
    );
    let head = header_height(layout, TITLE, &subtitle);
    let n = reasons.len().max(1);
    let left: u32 = if layout == Layout::Wide { 230 } else { 150 };
    let height = head as u32 + 12 + n as u32 * 40 + 52;
    let top = reasons.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    svg((layout.width(), height), |root| {
        header(root, layout, TITLE, &subtitle)?;
        if reasons.is_empty() {
            return text(
                root,
                "Every row read was accepted.",
                (20, head + 20),
                style(LABEL, INK, HPos::Left, VPos::Center),
            );
        }
        let mut chart = ChartBuilder::on(root)
            .margin_top(head as u32 + 12)
            .margin_left(left)
            .margin_right(70)
            .margin_bottom(8)
            .x_label_area_size(44)
            .build_cartesian_2d(0.0..top * 1.05, -0.6..(n as f64 - 0.4))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(5)
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(axis_labels())
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-9 {
                    f::count(x.max(0.0) as u64)
                } else {
                    String::new()
                }
            })
            .draw()?;
        for (i, (reason, count)) in reasons.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.3), (*count as f64, y + 0.3)],
                AMBER.filled(),
            )))?;
            let (px, py) = chart.backend_coord(&(*count as f64, y));
            text(
                root,
                &f::count(*count),
                (px + 8, py),
                style(LABEL, INK, HPos::Left, VPos::Center),
            )?;
            let label_x = left as i32 - 10;
            text(
                root,
                reason,
                (label_x, py),
                style(LABEL, INK, HPos::Right, VPos::Center),
            )?;
        }
        Ok(())
    })
}
