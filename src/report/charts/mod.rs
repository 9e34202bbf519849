//! The report's charts, drawn from the [`Summary`] alone with plotters' SVG
//! backend, each in two layouts: wide (the files under `charts/`, and the
//! page on a large screen) and narrow (the page on a phone, where a wide
//! chart scaled down would be unreadable).
//!
//! Numeric axes are plotters'; category labels, values and legends are
//! placed by hand at the pixel positions plotters maps data to, because
//! without a font stack plotters can only estimate text extents.

mod attribution;
mod draw;
mod funnel;
mod guardrails;
mod lift;
mod policy;
mod quality;
mod timeline;

use super::Summary;
use anyhow::Result;

/// The page section a chart belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Lift,
    Timeline,
    Funnel,
    Attribution,
    Guardrails,
    DataQuality,
    Policy,
}

/// How wide a chart is drawn, in SVG units (about CSS pixels at full size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Wide,
    Narrow,
}

impl Layout {
    pub fn width(self) -> u32 {
        match self {
            Layout::Wide => 900,
            Layout::Narrow => 380,
        }
    }
}

pub struct Chart {
    /// File stem under `charts/`.
    pub name: String,
    pub section: Section,
    /// Alternative text for the page.
    pub alt: String,
    /// The wide layout: the chart's files, and the page on large screens.
    pub svg: String,
    /// The narrow layout, for the page on phones.
    pub narrow: String,
}

impl Chart {
    /// A chart drawn in both layouts by `draw`.
    fn new(
        name: impl Into<String>,
        section: Section,
        alt: impl Into<String>,
        draw: impl Fn(Layout) -> Result<String>,
    ) -> Result<Chart> {
        Ok(Chart {
            name: name.into(),
            section,
            alt: alt.into(),
            svg: draw(Layout::Wide)?,
            narrow: draw(Layout::Narrow)?,
        })
    }
}

/// Every chart the summary supports, in page order.
pub fn all(summary: &Summary) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for spec in &lift::FOREST {
        charts.extend(lift::forest(summary, spec)?);
    }
    charts.extend(timeline::cumulative(summary)?);
    charts.extend(funnel::funnel(summary)?);
    let several = summary.attribution.len() > 1;
    for a in &summary.attribution {
        charts.extend(attribution::against_holdout(a, &summary.currency, several)?);
    }
    charts.extend(guardrails::per_step(summary)?);
    charts.push(quality::data_quality(summary)?);
    charts.extend(policy::learned(summary)?);
    Ok(charts)
}

/// `95` for alpha 0.05.
fn confidence(summary: &Summary) -> String {
    format!("{:.0}", (1.0 - summary.lift.alpha) * 100.0)
}
