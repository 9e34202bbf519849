//! What every chart shares: the canvas, text, titles, legends and colors.

use super::Layout;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub const FONT: &str = "sans-serif";
// Sizes as plotters takes them: it writes `font-size` as size / 1.24.
pub const TITLE: u32 = 24;
pub const LABEL: u32 = 19;
pub const SMALL: u32 = 17;

pub const INK: RGBColor = RGBColor(17, 24, 39);
pub const MUTED: RGBColor = RGBColor(75, 85, 99);
pub const GRID: RGBColor = RGBColor(229, 231, 235);
pub const AXIS: RGBColor = RGBColor(156, 163, 175);
pub const BLUE: RGBColor = RGBColor(37, 99, 235);
pub const NAVY: RGBColor = RGBColor(30, 58, 138);
pub const SKY: RGBColor = RGBColor(96, 165, 250);
pub const BAND: RGBColor = RGBColor(191, 219, 254);
pub const GREEN: RGBColor = RGBColor(22, 163, 74);
pub const RED: RGBColor = RGBColor(220, 38, 38);
pub const GRAY: RGBColor = RGBColor(156, 163, 175);
pub const SLATE: RGBColor = RGBColor(75, 85, 99);
pub const AMBER: RGBColor = RGBColor(217, 119, 6);
/// One color per treatment arm.
pub const ARMS: [RGBColor; 4] = [BLUE, AMBER, RGBColor(124, 58, 237), GREEN];
/// One color per flow step, dark to light, then other hues.
pub const STEPS: [RGBColor; 6] = [
    NAVY,
    BLUE,
    SKY,
    RGBColor(147, 197, 253),
    AMBER,
    RGBColor(124, 58, 237),
];

/// Draws onto a white SVG canvas of `size` and returns the SVG text.
pub fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

pub fn style(size: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color).pos(Pos::new(h, v))
}

pub fn bold(size: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size, FontStyle::Bold)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// The style of numeric axis labels.
pub fn axis_labels() -> TextStyle<'static> {
    (FONT, SMALL).into_font().color(&MUTED)
}

/// Draws `s` at `at`, in the pixel coordinates of the whole canvas (where
/// `backend_coord` maps data), whichever part of it `area` is.
pub fn text(area: &Area, s: &str, at: (i32, i32), st: TextStyle<'static>) -> Result<()> {
    let (bx, by) = area.get_base_pixel();
    area.draw(&Text::new(s.to_string(), (at.0 - bx, at.1 - by), st))?;
    Ok(())
}

/// Approximate width in pixels of `s` at plotters size `size`.
pub fn text_width(s: &str, size: u32) -> i32 {
    // Advance per character in ems, roughly as DejaVu Sans draws it: a wide
    // character (CJK, most emoji: two terminal columns) a full em, capitals
    // and digits wider than lower case, combining marks nothing.
    let ems: f64 = s
        .chars()
        .map(|c| match unicode_width::UnicodeWidthChar::width(c) {
            Some(0) => 0.0,
            Some(2) => 1.0,
            _ if matches!(c, 'M' | 'W' | 'm' | 'w' | '@') => 0.9,
            _ if c.is_uppercase() => 0.74,
            _ if c.is_ascii_digit() => 0.64,
            _ => 0.56,
        })
        .sum();
    (ems * size as f64 / 1.24) as i32
}

/// `s` shortened to at most `width` pixels at `size`: whole when it fits,
/// else its first characters and "…" (names from the data, such as arm or
/// channel names, can be any length; the JSON keeps them whole).
pub fn elide(s: &str, size: u32, width: i32) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        let mut next = out.clone();
        next.push(c);
        if text_width(&next, size) + text_width("…", size) > width {
            break;
        }
        out = next;
    }
    out.push('…');
    out
}

/// `s` broken into lines of at most `width` pixels at `size`, at spaces.
/// A word wider than `width` (a long name from the data) is broken inside.
pub fn wrap(s: &str, size: u32, width: i32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut words: Vec<String> = Vec::new();
    for word in s.split(' ') {
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if text_width(&piece, size) > width && piece.chars().count() > 1 {
                let last = piece.pop().expect("a character");
                words.push(std::mem::replace(&mut piece, last.to_string()));
            }
        }
        words.push(piece);
    }
    for word in words.iter().map(String::as_str) {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Title and explanation, top left, wrapped to the canvas; returns the
/// height they take.
pub fn header(area: &Area, layout: Layout, title: &str, subtitle: &str) -> Result<i32> {
    let width = layout.width() as i32 - 40;
    let mut y = 14;
    for line in wrap(title, TITLE, width) {
        text(
            area,
            &line,
            (20, y),
            bold(TITLE, INK, HPos::Left, VPos::Top),
        )?;
        y += 30;
    }
    y += 2;
    for line in wrap(subtitle, SMALL, width) {
        text(
            area,
            &line,
            (20, y),
            style(SMALL, MUTED, HPos::Left, VPos::Top),
        )?;
        y += 21;
    }
    Ok(y + 8)
}

/// How tall `header` will be, for sizing the canvas first.
pub fn header_height(layout: Layout, title: &str, subtitle: &str) -> i32 {
    let width = layout.width() as i32 - 40;
    14 + 30 * wrap(title, TITLE, width).len() as i32
        + 2
        + 21 * wrap(subtitle, SMALL, width).len() as i32
        + 8
}

/// Colored keys with labels in rows from `at`, wrapping at the canvas edge;
/// returns the height taken.
pub fn legend(area: &Area, layout: Layout, items: &[Key], at: (i32, i32)) -> Result<i32> {
    let right = layout.width() as i32 - 10;
    let (mut x, mut y) = at;
    for key in items {
        let label = elide(&key.label, SMALL, right - at.0 - 46);
        let w = 24 + text_width(&label, SMALL) + 22;
        if x + w > right && x > at.0 {
            x = at.0;
            y += 26;
        }
        match key.mark {
            Mark::Square => {
                area.draw(&Rectangle::new(
                    [(x, y - 7), (x + 14, y + 7)],
                    key.color.filled(),
                ))?;
            }
            Mark::Line => {
                area.draw(&PathElement::new(
                    vec![(x - 2, y), (x + 16, y)],
                    key.color.stroke_width(3),
                ))?;
            }
        }
        text(
            area,
            &label,
            (x + 22, y),
            style(SMALL, INK, HPos::Left, VPos::Center),
        )?;
        x += w;
    }
    Ok(y - at.1 + 26)
}

/// How tall `legend` will be.
pub fn legend_height(layout: Layout, items: &[Key], x0: i32) -> i32 {
    let right = layout.width() as i32 - 10;
    let mut x = x0;
    let mut rows = 1;
    for key in items {
        let label = elide(&key.label, SMALL, right - x0 - 46);
        let w = 24 + text_width(&label, SMALL) + 22;
        if x + w > right && x > x0 {
            x = x0;
            rows += 1;
        }
        x += w;
    }
    rows * 26
}

pub struct Key {
    pub color: RGBColor,
    pub label: String,
    pub mark: Mark,
}

pub enum Mark {
    Square,
    Line,
}

impl Key {
    pub fn square(color: RGBColor, label: impl Into<String>) -> Key {
        Key {
            color,
            label: label.into(),
            mark: Mark::Square,
        }
    }

    pub fn line(color: RGBColor, label: impl Into<String>) -> Key {
        Key {
            color,
            label: label.into(),
            mark: Mark::Line,
        }
    }
}

/// `color` mixed with white: `amount` 1 is the color, 0 is white.
pub fn tint(color: RGBColor, amount: f64) -> RGBColor {
    let mix = |c: u8| (255.0 - (255.0 - c as f64) * amount).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

/// Padded range covering `lo..hi` and zero.
pub fn span_with_zero(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let width = (hi - lo).max(1e-9);
    (lo - width * pad, hi + width * pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole() {
        let lines = wrap("one two three four five six", SMALL, 60);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "one two three four five six");
        assert_eq!(wrap("short", SMALL, 500), ["short"]);
        let long = format!("to the {}", "y".repeat(300));
        let lines = wrap(&long, SMALL, 200);
        assert!(
            lines.iter().all(|l| text_width(l, SMALL) <= 200),
            "{lines:?}"
        );
        assert_eq!(lines.concat().replace(' ', ""), long.replace(' ', ""));
    }

    #[test]
    fn long_names_are_cut_to_the_width() {
        assert_eq!(elide("holdout", SMALL, 500), "holdout");
        let long = "x".repeat(600);
        let cut = elide(&long, SMALL, 200);
        assert!(
            cut.ends_with('…') && text_width(&cut, SMALL) <= 200,
            "{cut}"
        );
        assert!(cut.chars().count() > 10);
        assert_eq!(elide("abc", SMALL, 0), "…");
    }
}
