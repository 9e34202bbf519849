//! What each attribution model credits to the flow, step by step, against
//! the incremental revenue the holdout measures.

use super::draw::*;
use super::{Chart, Layout, Section};
use crate::attribution::holdout::{FlowAttribution, ModelVsHoldout};
use crate::report::format as f;
use crate::report::Estimate;
use anyhow::Result;
use plotters::prelude::{ChartBuilder, Color, PathElement, Rectangle};
use plotters::style::text_anchor::{HPos, VPos};

const SUBTITLE: &str =
    "Bars: revenue each model credits, split by step. Line and band: incremental revenue measured against the holdout, with its 95% interval.";

pub fn against_holdout(
    a: &FlowAttribution,
    currency: &str,
    several: bool,
) -> Result<Option<Chart>> {
    let Some(inc) = a.incremental_revenue else {
        return Ok(None);
    };
    if a.side_by_side.is_empty() {
        return Ok(None);
    }
    let name = if several {
        format!(
            "attribution_vs_holdout_{}",
            crate::output::encode::file_name(&a.arm)
        )
    } else {
        "attribution_vs_holdout".into()
    };
    let alt = format!(
        "Revenue credited to the {} by each attribution model against the holdout-measured incremental revenue",
        a.arm
    );
    let sym = f::symbol(currency);
    let chart = Chart::new(name, Section::Attribution, alt, |layout| {
        let view = View {
            a,
            inc,
            sym: &sym,
            layout,
        };
        match layout {
            Layout::Wide => view.columns(),
            Layout::Narrow => view.rows(),
        }
    })?;
    Ok(Some(chart))
}

struct View<'a> {
    a: &'a FlowAttribution,
    inc: Estimate,
    sym: &'a str,
    layout: Layout,
}

impl View<'_> {
    fn title(&self) -> String {
        format!("What each attribution model credits to the {}", self.a.arm)
    }

    fn channels(&self) -> Vec<&str> {
        self.a.side_by_side[0]
            .channels
            .iter()
            .map(|c| c.channel.as_str())
            .collect()
    }

    fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .channels()
            .iter()
            .enumerate()
            .map(|(i, c)| Key::square(STEPS[i % STEPS.len()], *c))
            .collect();
        keys.push(Key::line(
            GREEN,
            format!(
                "holdout: {} ({} to {})",
                f::money(self.inc.estimate, self.sym, 0),
                f::money(self.inc.ci.lower, self.sym, 0),
                f::money(self.inc.ci.upper, self.sym, 0)
            ),
        ));
        keys
    }

    /// The value axis: zero, every bar and the holdout's band.
    fn range(&self) -> (f64, f64) {
        let top = self
            .a
            .side_by_side
            .iter()
            .map(|m| m.credited_revenue)
            .fold(self.inc.ci.upper, f64::max);
        (self.inc.ci.lower.min(0.0), top * 1.16)
    }

    fn label(&self, m: &ModelVsHoldout) -> String {
        let ratio = m
            .over_attribution_ratio
            .map_or(String::new(), |r| format!(" · {r:.1}×"));
        format!("{}{ratio}", f::money_compact(m.credited_revenue, self.sym))
    }

    /// Vertical bars, one per model, with the holdout as a horizontal line.
    fn columns(&self) -> Result<String> {
        let (layout, models) = (self.layout, &self.a.side_by_side);
        let (title, keys) = (self.title(), self.keys());
        let head = header_height(layout, &title, SUBTITLE);
        let legend_h = legend_height(layout, &keys, 24);
        let (y0, y1) = self.range();
        let m = models.len();
        svg((layout.width(), (head + legend_h) as u32 + 400), |root| {
            header(root, layout, &title, SUBTITLE)?;
            legend(root, layout, &keys, (24, head + 6))?;
            let mut chart = ChartBuilder::on(root)
                .margin_top((head + legend_h) as u32 + 16)
                .margin_left(8)
                .margin_right(16)
                .margin_bottom(8)
                .x_label_area_size(44)
                .y_label_area_size(84)
                .build_cartesian_2d(-0.5..(m as f64 - 0.5), y0..y1)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(6)
                .max_light_lines(0)
                .bold_line_style(GRID)
                .axis_style(AXIS)
                .label_style(axis_labels())
                .y_label_formatter(&|y| f::money_compact(*y, self.sym))
                .draw()?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (-0.5, self.inc.ci.lower),
                    (m as f64 - 0.5, self.inc.ci.upper),
                ],
                tint(GREEN, 0.16).filled(),
            )))?;
            for (i, model) in models.iter().enumerate() {
                let x = i as f64;
                let mut base = 0.0;
                for (j, ch) in model.channels.iter().enumerate() {
                    let v = ch.credited_revenue.max(0.0);
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.32, base), (x + 0.32, base + v)],
                        STEPS[j % STEPS.len()].filled(),
                    )))?;
                    base += v;
                }
                let (px, py) = chart.backend_coord(&(x, base));
                text(
                    root,
                    &self.label(model),
                    (px, py - 6),
                    style(SMALL, INK, HPos::Center, VPos::Bottom),
                )?;
                let (_, bottom) = chart.backend_coord(&(x, y0));
                text(
                    root,
                    &f::model(&model.model),
                    (px, bottom + 12),
                    style(SMALL, INK, HPos::Center, VPos::Top),
                )?;
            }
            chart.draw_series(std::iter::once(PathElement::new(
                vec![
                    (-0.5, self.inc.estimate),
                    (m as f64 - 0.5, self.inc.estimate),
                ],
                GREEN.stroke_width(3),
            )))?;
            Ok(())
        })
    }

    /// Horizontal bars, one row per model, with the holdout as a vertical
    /// line: model names stay readable on a narrow screen.
    fn rows(&self) -> Result<String> {
        let (layout, models) = (self.layout, &self.a.side_by_side);
        let (title, keys) = (self.title(), self.keys());
        let head = header_height(layout, &title, SUBTITLE);
        let legend_h = legend_height(layout, &keys, 24);
        let (x0, x1) = self.range();
        let n = models.len();
        let top = (head + legend_h) as u32 + 36;
        let width = layout.width() as i32;
        svg((layout.width(), top + n as u32 * 56 + 52), |root| {
            header(root, layout, &title, SUBTITLE)?;
            legend(root, layout, &keys, (24, head + 6))?;
            let mut chart = ChartBuilder::on(root)
                .margin_top(top)
                .margin_left(20)
                .margin_right(24)
                .margin_bottom(8)
                .x_label_area_size(44)
                .build_cartesian_2d(x0..x1, -0.6..(n as f64 - 0.4))?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .x_labels(4)
                .max_light_lines(0)
                .bold_line_style(GRID)
                .axis_style(AXIS)
                .label_style(axis_labels())
                .x_label_formatter(&|x| f::money_compact(*x, self.sym))
                .draw()?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (self.inc.ci.lower, -0.6),
                    (self.inc.ci.upper, n as f64 - 0.4),
                ],
                tint(GREEN, 0.16).filled(),
            )))?;
            for (i, model) in models.iter().enumerate() {
                let y = (n - 1 - i) as f64;
                let mut base = 0.0;
                for (j, ch) in model.channels.iter().enumerate() {
                    let v = ch.credited_revenue.max(0.0);
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(base, y - 0.2), (base + v, y + 0.2)],
                        STEPS[j % STEPS.len()].filled(),
                    )))?;
                    base += v;
                }
                let (_, py) = chart.backend_coord(&(x0, y));
                text(
                    root,
                    &f::model(&model.model),
                    (20, py - 22),
                    style(LABEL, INK, HPos::Left, VPos::Center),
                )?;
                text(
                    root,
                    &self.label(model),
                    (width - 24, py - 22),
                    style(SMALL, INK, HPos::Right, VPos::Center),
                )?;
            }
            chart.draw_series(std::iter::once(PathElement::new(
                vec![
                    (self.inc.estimate, -0.6),
                    (self.inc.estimate, n as f64 - 0.4),
                ],
                GREEN.stroke_width(3),
            )))?;
            Ok(())
        })
    }
}
