//! Durations written as `45m`, `24h`, `7d`, `90s` or compounds like `1d12h`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative span of time with second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    seconds: i64,
}

pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// The longest span any setting may have: ten years. Every time computed
/// from a span and a timestamp (2000–2100) then fits the microsecond clock.
pub const MAX_SPAN: Span = Span::from_days(3650);

impl Span {
    pub const fn from_seconds(seconds: i64) -> Span {
        Span { seconds }
    }
    pub const fn from_hours(hours: i64) -> Span {
        Span {
            seconds: hours * 3600,
        }
    }
    pub const fn from_days(days: i64) -> Span {
        Span {
            seconds: days * 86_400,
        }
    }
    pub fn seconds(self) -> i64 {
        self.seconds
    }
    /// Microseconds (saturating; spans from settings are at most [`MAX_SPAN`]).
    pub fn micros(self) -> i64 {
        self.seconds.saturating_mul(MICROS_PER_SECOND)
    }

    /// An error naming `field` when the span is longer than [`MAX_SPAN`].
    pub fn check_ceiling(self, field: &str) -> Result<Span, String> {
        if self > MAX_SPAN {
            return Err(format!(
                "field `{field}`: expected a duration of at most {MAX_SPAN}, got {self}"
            ));
        }
        Ok(self)
    }
    pub fn hours_f64(self) -> f64 {
        self.seconds as f64 / 3600.0
    }

    /// Parses `45m`, `24h`, `7d`, `30s`, `2w` and concatenations (`1d12h`).
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty duration; expected e.g. `45m`, `24h` or `7d`".into());
        }
        let mut total: i64 = 0;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => {
                    return Err(format!(
                        "`{text}`: unknown unit `{c}`; expected s, m, h, d or w (e.g. `45m`, `24h`, `7d`)"
                    ))
                }
            };
            if digits.is_empty() {
                return Err(format!("`{text}`: unit `{c}` without a number before it"));
            }
            let n: i64 = digits
                .parse()
                .map_err(|_| format!("`{text}`: number too large"))?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{text}`: duration too large"))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(format!(
                "`{text}`: number without a unit; expected e.g. `{digits}h` or `{digits}d`"
            ));
        }
        Ok(Span { seconds: total })
    }
}

impl fmt::Display for Span {
    /// The shortest exact rendering: `7d`, `36h`, `45m`, `1d30m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.seconds;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, suffix) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, suffix)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"45m\", \"24h\" or \"7d\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(Span::parse("45m").unwrap().seconds(), 2700);
        assert_eq!(Span::parse("24h").unwrap().seconds(), 86_400);
        assert_eq!(Span::parse("7d").unwrap().seconds(), 604_800);
        assert_eq!(Span::parse("1d12h").unwrap().seconds(), 129_600);
        assert_eq!(Span::parse("2w").unwrap(), Span::from_days(14));
    }

    #[test]
    fn rejects_bad_text() {
        assert!(Span::parse("").is_err());
        assert!(Span::parse("12").unwrap_err().contains("without a unit"));
        assert!(Span::parse("3y").unwrap_err().contains("unknown unit"));
        assert!(Span::parse("h").is_err());
        assert!(Span::parse("99999999999999999999d").is_err());
    }

    #[test]
    fn long_spans_saturate_and_are_refused() {
        let huge = Span::parse("115740741d").unwrap();
        assert_eq!(huge.micros(), i64::MAX);
        let e = huge.check_ceiling("flow.attribution_window").unwrap_err();
        assert!(
            e.contains("flow.attribution_window") && e.contains("3650d"),
            "{e}"
        );
        assert!(Span::parse("3650d").unwrap().check_ceiling("x").is_ok());
    }

    #[test]
    fn display_round_trips() {
        for s in ["7d", "36h", "45m", "1d30m", "0s", "1d1h1m1s"] {
            let span = Span::parse(s).unwrap();
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
        assert_eq!(Span::from_hours(72).to_string(), "3d");
    }
}
