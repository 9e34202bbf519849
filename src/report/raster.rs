//! Charts to PNG: the same SVG text rasterized with resvg, so the PNG and
//! the SVG never disagree. Text is shaped with the machine's fonts.

use anyhow::{anyhow, Context, Result};
use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, fontdb};
use std::sync::Arc;

/// Pixels per SVG unit: crisp on high-density screens and in documents.
const SCALE: f32 = 2.0;

/// Families tried, in order, for the SVG's generic `sans-serif`.
const SANS: [&str; 5] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "Arial",
    "Helvetica",
];

pub struct Rasterizer {
    options: usvg::Options<'static>,
}

impl Rasterizer {
    /// Loads the system fonts once for every chart.
    pub fn new() -> Rasterizer {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        if let Some(family) = sans_family(&db) {
            db.set_sans_serif_family(family);
        }
        let options = usvg::Options {
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        };
        Rasterizer { options }
    }

    /// Whether any font was found (without one, PNG text is left out).
    pub fn has_fonts(&self) -> bool {
        !self.options.fontdb.is_empty()
    }

    /// The SVG rendered as PNG bytes, at twice its size.
    pub fn png(&self, svg: &str) -> Result<Vec<u8>> {
        let tree = usvg::Tree::from_str(svg, &self.options).context("chart SVG does not parse")?;
        let size = tree.size().to_int_size();
        let (w, h) = (
            (size.width() as f32 * SCALE).ceil() as u32,
            (size.height() as f32 * SCALE).ceil() as u32,
        );
        let mut pixmap =
            Pixmap::new(w, h).ok_or_else(|| anyhow!("chart of {w}×{h} pixels is empty"))?;
        resvg::render(
            &tree,
            Transform::from_scale(SCALE, SCALE),
            &mut pixmap.as_mut(),
        );
        pixmap
            .encode_png()
            .context("cannot encode the chart as PNG")
    }
}

/// The first preferred family the machine has, else any family at all
/// (any font beats missing text).
fn sans_family(db: &fontdb::Database) -> Option<String> {
    let has = |family: &str| {
        db.faces()
            .any(|f| f.families.iter().any(|(name, _)| name == family))
    };
    SANS.iter()
        .find(|f| has(f))
        .map(|f| f.to_string())
        .or_else(|| {
            db.faces()
                .next()
                .and_then(|f| f.families.first())
                .map(|(name, _)| name.clone())
        })
}

impl Default for Rasterizer {
    fn default() -> Self {
        Rasterizer::new()
    }
}
