//! Parsing of individual fields from loosely typed JSON values: the one
//! place that decides what a timestamp, an amount or an id may look like.

use super::{Reason, Rejection};
use serde_json::Value;

/// How bare numbers in a timestamp field are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EpochUnit {
    /// Bare numbers are rejected: a number is ambiguous without a unit.
    #[default]
    None,
    S,
    Ms,
    Us,
}

/// A string view of a scalar field; `None` for null, absent or empty.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => text_of_str(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// The largest magnitude a number in an event may have: 10^12 (a trillion
/// in any currency), so sums of amounts in cents never overflow.
pub const MAX_NUMBER: f64 = 1e12;

/// An optional finite number no larger than [`MAX_NUMBER`] in magnitude;
/// strings holding numbers are accepted.
pub fn number(v: Option<&Value>, field: &str) -> Result<Option<f64>, Rejection> {
    within_ceiling(unbounded_number(v, field)?, field)
}

fn within_ceiling(x: Option<f64>, field: &str) -> Result<Option<f64>, Rejection> {
    if let Some(x) = x {
        if x.abs() > MAX_NUMBER {
            return Err(Rejection::new(
                Reason::BadNumber,
                Some(field),
                format!("{field} = {x}; above the plausibility ceiling of 1e12"),
            ));
        }
    }
    Ok(x)
}

fn unbounded_number(v: Option<&Value>, field: &str) -> Result<Option<f64>, Rejection> {
    let bad = |shown: &str| {
        Rejection::new(
            Reason::BadNumber,
            Some(field),
            format!("{field} = {shown}; expected a number"),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| bad(&n.to_string())),
        Some(Value::String(s)) => number_of_str(s, field),
        Some(other) => Err(bad(&other.to_string())),
    }
}

/// A number written as text (surrounding blanks ignored; blank: none).
fn number_of_str(s: &str, field: &str) -> Result<Option<f64>, Rejection> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(Rejection::new(
            Reason::BadNumber,
            Some(field),
            format!("{field} = {t:?}; expected a number"),
        )),
    }
}

/// An optional positive integer step.
pub fn step(v: Option<&Value>, field: &str) -> Result<Option<i32>, Rejection> {
    whole_step(number(v, field)?, field)
}

fn whole_step(x: Option<f64>, field: &str) -> Result<Option<i32>, Rejection> {
    let Some(x) = x else {
        return Ok(None);
    };
    if x.fract() != 0.0 || x < 1.0 || x > i32::MAX as f64 {
        return Err(Rejection::new(
            Reason::BadFlowStep,
            Some(field),
            format!("{field} = {x}; expected a whole number ≥ 1"),
        ));
    }
    Ok(Some(x as i32))
}

/// A required timestamp as UTC microseconds.
pub fn timestamp(v: Option<&Value>, field: &str, epoch: EpochUnit) -> Result<i64, Rejection> {
    let missing = || {
        Rejection::new(
            Reason::MissingTimestamp,
            Some(field),
            format!("no {field}; expected an RFC 3339 timestamp with offset"),
        )
    };
    match v {
        None | Some(Value::Null) => Err(missing()),
        Some(Value::String(s)) => timestamp_of_str(s, field, epoch),
        Some(Value::Number(n)) => parse_timestamp(&n.to_string(), field, epoch),
        Some(other) => Err(Rejection::new(
            Reason::BadTimestamp,
            Some(field),
            format!("{field} = {other}; expected an RFC 3339 timestamp"),
        )),
    }
}

/// A timestamp written as text (surrounding blanks ignored; blank: missing).
fn timestamp_of_str(s: &str, field: &str, epoch: EpochUnit) -> Result<i64, Rejection> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Rejection::new(
            Reason::MissingTimestamp,
            Some(field),
            format!("no {field}; expected an RFC 3339 timestamp with offset"),
        ));
    }
    parse_timestamp(t, field, epoch)
}

/// A text field's value: trimmed, `None` when blank.
fn text_of_str(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A field as read: a loosely typed JSON value, or the text of a cell
/// (a CSV field), which reads exactly as a JSON string holding it.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Value(&'a Value),
    Text(&'a str),
    /// A typed instant (a Parquet datetime), UTC microseconds: reads
    /// exactly as the text [`format_timestamp`] renders it, without
    /// rendering it when it is read as a timestamp within range.
    Micros(i64),
}

/// [`text`] of a cell.
pub fn text_cell(c: Option<Cell>) -> Option<String> {
    match c? {
        Cell::Value(v) => text(Some(v)),
        Cell::Text(s) => text_of_str(s),
        Cell::Micros(m) => text_of_str(&format_timestamp(m)),
    }
}

/// [`number`] of a cell.
pub fn number_cell(c: Option<Cell>, field: &str) -> Result<Option<f64>, Rejection> {
    match c {
        None => Ok(None),
        Some(Cell::Value(v)) => number(Some(v), field),
        Some(Cell::Text(s)) => within_ceiling(number_of_str(s, field)?, field),
        Some(Cell::Micros(m)) => within_ceiling(number_of_str(&format_timestamp(m), field)?, field),
    }
}

/// [`step`] of a cell.
pub fn step_cell(c: Option<Cell>, field: &str) -> Result<Option<i32>, Rejection> {
    whole_step(number_cell(c, field)?, field)
}

/// [`timestamp`] of a cell.
pub fn timestamp_cell(c: Option<Cell>, field: &str, epoch: EpochUnit) -> Result<i64, Rejection> {
    match c {
        Some(Cell::Text(s)) => timestamp_of_str(s, field, epoch),
        Some(Cell::Value(v)) => timestamp(Some(v), field, epoch),
        // Within range the rendering reads back as the same instant.
        Some(Cell::Micros(m)) if (MIN_TS..MAX_TS).contains(&m) => Ok(m),
        Some(Cell::Micros(m)) => timestamp_of_str(&format_timestamp(m), field, epoch),
        None => timestamp(None, field, epoch),
    }
}

/// Earliest and latest instants accepted: anything outside is a corrupt clock.
const MIN_TS: i64 = 946_684_800_000_000; // 2000-01-01
const MAX_TS: i64 = 4_102_444_800_000_000; // 2100-01-01

pub fn parse_timestamp(s: &str, field: &str, epoch: EpochUnit) -> Result<i64, Rejection> {
    let bad = |why: &str| {
        Rejection::new(
            Reason::BadTimestamp,
            Some(field),
            format!("{field} = {s:?}: {why}"),
        )
    };
    let micros = if s
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.bytes().any(|b| b.is_ascii_digit())
    {
        let scale = match epoch {
            EpochUnit::None => {
                return Err(bad(
                    "a bare number; pass --epoch-unit s|ms|us to read epoch timestamps",
                ))
            }
            EpochUnit::S => 1_000_000.0,
            EpochUnit::Ms => 1_000.0,
            EpochUnit::Us => 1.0,
        };
        let x: f64 = s.parse().map_err(|_| bad("not a number"))?;
        let us = (x * scale).round();
        if !us.is_finite() || us.abs() > 9.0e18 {
            return Err(bad("out of range"));
        }
        us as i64
    } else {
        // Warehouse renderings: `2026-03-18 10:00:00 UTC` (BigQuery) and
        // `2026-03-18 10:00:00+00` (PostgreSQL, Redshift).
        let owned;
        let s = if let Some(head) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" utc")) {
            owned = format!("{}+00:00", head.trim_end());
            owned.as_str()
        } else if s.len() > 3
            && s.as_bytes()[s.len() - 3] == b'+'
            && s[s.len() - 2..].bytes().all(|b| b.is_ascii_digit())
            && s.contains(' ')
        {
            owned = format!("{s}:00");
            owned.as_str()
        } else {
            s
        };
        let dt = chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
            .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f %z"))
            .map_err(|_| bad("expected RFC 3339 with a UTC offset, e.g. 2026-03-02T10:15:00Z"))?;
        dt.timestamp_micros()
    };
    if !(MIN_TS..MAX_TS).contains(&micros) {
        return Err(bad("outside 2000–2100"));
    }
    Ok(micros)
}

/// Renders UTC microseconds as RFC 3339 (`2026-03-02T10:15:00Z`, with
/// fractional seconds only when present).
pub fn format_timestamp(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(dt) if micros % 1_000_000 == 0 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2026-03-02T10:15:00Z", "ts", EpochUnit::None).unwrap();
        assert_eq!(format_timestamp(t), "2026-03-02T10:15:00Z");
        let t2 = parse_timestamp("2026-03-02T11:15:00+01:00", "ts", EpochUnit::None).unwrap();
        assert_eq!(t, t2);
        let t3 = parse_timestamp("1772446500000", "ts", EpochUnit::Ms).unwrap();
        assert_eq!(t3, t);
        assert!(parse_timestamp("1772446500000", "ts", EpochUnit::None).is_err());
        assert!(parse_timestamp("2026-03-02T10:15:00", "ts", EpochUnit::None).is_err());
        assert!(parse_timestamp("yesterday", "ts", EpochUnit::None).is_err());
        assert!(parse_timestamp("1e400", "ts", EpochUnit::S).is_err());
        assert!(parse_timestamp("-", "ts", EpochUnit::S).is_err());
        let w = parse_timestamp("2026-03-02 10:15:00 UTC", "ts", EpochUnit::None).unwrap();
        assert_eq!(w, t);
        let w = parse_timestamp("2026-03-02 10:15:00.000 UTC", "ts", EpochUnit::None).unwrap();
        assert_eq!(w, t);
        let w = parse_timestamp("2026-03-02 11:15:00+01", "ts", EpochUnit::None).unwrap();
        assert_eq!(w, t);
        assert_eq!(
            format_timestamp(t + 5),
            "2026-03-02T10:15:00.000005Z".to_string()
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(number(Some(&json!("12.5")), "value").unwrap(), Some(12.5));
        assert_eq!(number(Some(&json!(3)), "value").unwrap(), Some(3.0));
        assert_eq!(number(Some(&json!("")), "value").unwrap(), None);
        assert!(number(Some(&json!("abc")), "value").is_err());
        assert!(number(Some(&json!("NaN")), "value").is_err());
        assert!(number(Some(&json!([1])), "value").is_err());
        assert!(number(Some(&json!(5e16)), "value").is_err());
        assert!(number(Some(&json!("1e300")), "value").is_err());
        assert_eq!(number(Some(&json!(1e12)), "value").unwrap(), Some(1e12));
        assert!(step(Some(&json!("0")), "flow_step").is_err());
        assert!(step(Some(&json!(1.5)), "flow_step").is_err());
        assert_eq!(step(Some(&json!("2")), "flow_step").unwrap(), Some(2));
    }

    /// A typed instant reads exactly as its rendering: the same instant,
    /// text, number and rejection, inside the accepted range, on its edges
    /// and outside it, with and without fractional seconds.
    #[test]
    fn micros_cells_read_as_their_rendering() {
        let instants = [
            MIN_TS - 1,
            MIN_TS,
            MIN_TS + 1,
            1_772_446_500_000_000,
            1_772_446_500_123_456,
            MAX_TS - 1,
            MAX_TS,
            MAX_TS + 7,
            0,
            -1_000_001,
            i64::MAX,
            i64::MIN,
        ];
        for m in instants {
            let text = format_timestamp(m);
            let (typed, shown) = (Some(Cell::Micros(m)), Some(Cell::Text(&text)));
            for epoch in [EpochUnit::None, EpochUnit::S, EpochUnit::Ms, EpochUnit::Us] {
                assert_eq!(
                    format!("{:?}", timestamp_cell(typed, "ts", epoch)),
                    format!("{:?}", timestamp_cell(shown, "ts", epoch)),
                    "{m} {epoch:?}"
                );
            }
            assert_eq!(text_cell(typed), text_cell(shown), "{m}");
            assert_eq!(
                format!("{:?}", number_cell(typed, "value")),
                format!("{:?}", number_cell(shown, "value")),
                "{m}"
            );
        }
    }
}
