//! An incentive carried in a Klaviyo message name, since a Klaviyo flow has
//! no field for it: `offer [incentive: 10% off, code TEN]`,
//! `[incentive: 5 off]` (an amount in the flow's currency),
//! `[incentive: free shipping]`. The cart-value range is not in the tag: it
//! is the trigger splits above the message.

use crate::config::{Incentive, IncentiveKind};
use anyhow::{bail, Result};

const OPEN: &str = "[incentive: ";

/// The message name for a step's message and incentive (`None` when both are absent).
pub fn format(message: Option<&str>, incentive: Option<&Incentive>) -> Option<String> {
    let tag = incentive.map(|i| {
        let what = match i.kind {
            IncentiveKind::PercentOff => format!("{}% off", i.value),
            IncentiveKind::FixedOff => format!("{} off", i.value),
            IncentiveKind::FreeShipping => "free shipping".to_string(),
        };
        match &i.code {
            Some(c) => format!("{OPEN}{what}, code {c}]"),
            None => format!("{OPEN}{what}]"),
        }
    });
    match (message, tag) {
        (Some(m), Some(t)) => Some(format!("{m} {t}")),
        (Some(m), None) => Some(m.to_string()),
        (None, t) => t,
    }
}

/// Splits a message name into the message and its incentive (offered to
/// every cart: ranges come from the splits). Errors say what was expected.
pub fn parse(name: &str) -> Result<(Option<String>, Option<Incentive>)> {
    let Some(start) = name.rfind(OPEN).filter(|_| name.ends_with(']')) else {
        return Ok((Some(name.to_string()), None));
    };
    let message = name[..start].trim_end();
    let inner = &name[start + OPEN.len()..name.len() - 1];
    let (what, code) = match inner.split_once(", code ") {
        Some((w, c)) => (w, Some(c.to_string())),
        None => (inner, None),
    };
    let number = |s: &str| -> Result<f64> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => bail!("`{s}` in `{OPEN}{inner}]` is not a positive number"),
        }
    };
    let (kind, value) = if what == "free shipping" {
        (IncentiveKind::FreeShipping, 0.0)
    } else if let Some(p) = what.strip_suffix("% off") {
        (IncentiveKind::PercentOff, number(p)?)
    } else if let Some(a) = what.strip_suffix(" off") {
        (IncentiveKind::FixedOff, number(a)?)
    } else {
        bail!("`{OPEN}{inner}]`: expected `N% off`, `N off` or `free shipping`, then optionally `, code CODE`");
    };
    Ok((
        (!message.is_empty()).then(|| message.to_string()),
        Some(Incentive {
            kind,
            value,
            min_cart_value: None,
            max_cart_value: None,
            customer_status: None,
            code,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(kind: IncentiveKind, value: f64, code: Option<&str>) -> Incentive {
        Incentive {
            kind,
            value,
            min_cart_value: None,
            max_cart_value: None,
            customer_status: None,
            code: code.map(str::to_string),
        }
    }

    #[test]
    fn names_round_trip() {
        let cases = [
            (
                Some("offer"),
                Some(inc(IncentiveKind::PercentOff, 10.0, Some("TEN"))),
            ),
            (
                Some("last call"),
                Some(inc(IncentiveKind::FixedOff, 7.5, None)),
            ),
            (
                None,
                Some(inc(IncentiveKind::FreeShipping, 0.0, Some("SHIP, FREE]"))),
            ),
            (Some("reminder"), None),
            (Some("a [b]"), None),
        ];
        for (m, i) in cases {
            let name = format(m, i.as_ref()).unwrap();
            let (m2, i2) = parse(&name).unwrap();
            assert_eq!((m.map(str::to_string), i), (m2, i2), "{name}");
        }
        assert_eq!(
            format(
                Some("offer"),
                Some(&inc(IncentiveKind::PercentOff, 10.0, Some("TEN")))
            )
            .unwrap(),
            "offer [incentive: 10% off, code TEN]"
        );
    }

    #[test]
    fn bad_tags_say_what_was_expected() {
        let e = parse("offer [incentive: ten percent]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected `N% off`"), "{e}");
        let e = parse("offer [incentive: -5% off]").unwrap_err().to_string();
        assert!(e.contains("not a positive number"), "{e}");
    }
}
