//! How the page and the charts write numbers and name things, so both read
//! the same.

use crate::lift::{LiftResult, Segment};

/// The symbol written before amounts in `currency`.
pub fn symbol(currency: &str) -> String {
    match currency {
        "USD" | "CAD" | "AUD" | "NZD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "JPY" => "¥".into(),
        other => format!("{other} "),
    }
}

/// `-$1,234.56`: an amount with thousands separators and `decimals` places.
pub fn money(x: f64, sym: &str, decimals: usize) -> String {
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{sym}{}", grouped(x.abs(), decimals))
}

/// `+$1,234` or `-$56`: a signed difference.
pub fn signed_money(x: f64, sym: &str, decimals: usize) -> String {
    let sign = if x < 0.0 { "-" } else { "+" };
    format!("{sign}{sym}{}", grouped(x.abs(), decimals))
}

/// `$12.3k`, `$1.2M`: amounts on chart axes and bar labels.
pub fn money_compact(x: f64, sym: &str) -> String {
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    let body = if a >= 1e6 {
        format!("{:.1}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", a / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", a / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{a:.0}")
    } else {
        format!("{a:.2}")
    };
    format!("{sign}{sym}{body}")
}

/// `12,345`: a count.
pub fn count(n: u64) -> String {
    grouped(n as f64, 0)
}

/// `+5.94 pp`: a difference of proportions in percentage points.
pub fn pp(x: f64) -> String {
    format!("{:+.2} pp", x * 100.0)
}

/// `0.25%`: a rate.
pub fn percent(x: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, x * 100.0)
}

/// A p-value: `<0.0001` below that, else four places.
pub fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// How a segment reads: `all recipients`, `cart value 50-100`, `new customers`.
pub fn segment(seg: &Segment) -> String {
    match seg.dimension.as_str() {
        "all" => "all recipients".into(),
        "cart_value_band" => format!("cart value {}", seg.value),
        "customer_status" => format!("{} customers", seg.value),
        dim => format!("{}: {}", dim.replace('_', " "), seg.value),
    }
}

/// Results in reading order: overall first, then each dimension in turn,
/// cart value bands ascending by their lower edge.
pub fn reading_order<'a>(results: impl Iterator<Item = &'a LiftResult>) -> Vec<&'a LiftResult> {
    let mut rows: Vec<(usize, &LiftResult)> = results.enumerate().collect();
    rows.sort_by(|(i, a), (j, b)| {
        let key = |r: &LiftResult| {
            let dim = match r.segment.dimension.as_str() {
                "all" => 0,
                "cart_value_band" => 1,
                "customer_status" => 2,
                _ => 3,
            };
            let band = if dim == 1 {
                band_floor(&r.segment.value)
            } else {
                0.0
            };
            (dim, band)
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(i.cmp(j))
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Lower edge of a band written by `Segments::band_of` (`<50` → −∞, `50-100` → 50, `>=200` → 200).
fn band_floor(band: &str) -> f64 {
    if band.starts_with('<') {
        return f64::NEG_INFINITY;
    }
    let digits: String = band
        .trim_start_matches(">=")
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap_or(f64::INFINITY)
}

/// How a metric reads in headings and tables.
pub fn metric(name: &str) -> String {
    match name {
        "revenue_per_recipient" => "revenue per recipient".into(),
        "net_contribution_per_recipient" => "net contribution per recipient".into(),
        "conversion_rate" => "conversion rate".into(),
        "orders_per_recipient" => "orders per recipient".into(),
        "unsubscribe_rate" => "unsubscribe rate".into(),
        "complaint_rate" => "complaint rate".into(),
        other => other.replace('_', " "),
    }
}

/// How an attribution model reads on a chart axis.
pub fn model(name: &str) -> String {
    match name {
        "first_touch" => "first touch".into(),
        "last_touch" => "last touch".into(),
        "position_based" => "position".into(),
        "time_decay" => "time decay".into(),
        "shapley" => "Shapley".into(),
        "shapley_ordered" => "Shapley ord.".into(),
        other => match other.strip_prefix("markov_order_") {
            Some(k) => format!("Markov {k}"),
            None => other.replace('_', " "),
        },
    }
}

/// `step 2`, or `no step` for messages without one.
pub fn step(step: Option<i32>) -> String {
    step.map_or_else(|| "no step".into(), |s| format!("step {s}"))
}

/// `Mar 2` from `2026-03-02`.
pub fn short_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = iso.split('-').skip(1);
    let month = parts.next().and_then(|m| m.parse::<usize>().ok());
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(m @ 1..=12), Some(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => iso.to_string(),
    }
}

/// `1234567.891` with 2 decimals → `1,234,567.89`.
fn grouped(a: f64, decimals: usize) -> String {
    let text = format!("{a:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_and_signed() {
        assert_eq!(money(20699.284, "$", 2), "$20,699.28");
        assert_eq!(money(-1234567.0, "$", 0), "-$1,234,567");
        assert_eq!(signed_money(7.2, "$", 2), "+$7.20");
        assert_eq!(money(999.5, "€", 0), "€1,000");
        assert_eq!(count(4000), "4,000");
        assert_eq!(count(57), "57");
    }

    #[test]
    fn compact_amounts_and_rates() {
        assert_eq!(money_compact(41234.0, "$"), "$41k");
        assert_eq!(money_compact(1500.0, "$"), "$1.5k");
        assert_eq!(money_compact(-2.5, "$"), "-$2.50");
        assert_eq!(pp(0.0594), "+5.94 pp");
        assert_eq!(percent(0.0025, 2), "0.25%");
        assert_eq!(p_value(0.00001), "<0.0001");
    }

    #[test]
    fn bands_sort_by_lower_edge() {
        let mut bands = vec!["100-200", "50-100", "<50", ">=200"];
        bands.sort_by(|a, b| band_floor(a).total_cmp(&band_floor(b)));
        assert_eq!(bands, ["<50", "50-100", "100-200", ">=200"]);
        assert_eq!(short_date("2026-03-02"), "Mar 2");
        assert_eq!(model("markov_order_2"), "Markov 2");
    }
}
