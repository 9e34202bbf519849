//! The one validation of values every input shape passes through: events
//! mapped by `ingest` (CSV, NDJSON, Parquet; every shape), the canonical
//! Parquet rows `paths` reads directly (`flow::table`), and the money in
//! `flow.toml`. The limits are stated in the README ("Limits").
//!
//! A value that fails is a [`Rejection`] with its field (quarantined or
//! counted as a skipped row), never a silent blank or an `inf` downstream.

use crate::events::{Event, Reason, Rejection};

/// Largest amount accepted anywhere (an order value, a discount, a cart
/// value, a cost in `flow.toml`): a trillion in the store's currency. Far
/// above any real order, and small enough that sums of squares over a
/// billion units stay finite.
pub const MAX_AMOUNT: f64 = 1e12;

/// Longest id or name accepted in event data (customer, cart and order ids,
/// coupon, channel, variant, customer status), in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// Longest raw row kept in the quarantine file; longer rows are cut there,
/// with their length noted.
pub const MAX_RAW_BYTES: usize = 4096;

/// Longest input line (a CSV record or an NDJSON line), in bytes: a longer
/// one is quarantined as `malformed_row` without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Timestamps are accepted from 2000-01-01 to 2100-01-01 (UTC).
pub const MIN_TS: i64 = 946_684_800_000_000;
pub const MAX_TS: i64 = 4_102_444_800_000_000;

/// A name or value in a flow file (they end up in terminals, TOML
/// comments, file names and pages): printable, at most [`MAX_ID_BYTES`].
/// The error names `field`.
pub fn config_text(field: &str, text: &str) -> anyhow::Result<()> {
    if let Some(c) = text
        .chars()
        .find(|&c| crate::output::encode::is_unsafe_char(c))
    {
        anyhow::bail!(
            "field `{field}`: holds the control character U+{:04X}; expected printable text",
            c as u32
        );
    }
    if text.len() > MAX_ID_BYTES {
        anyhow::bail!(
            "field `{field}`: {} bytes long; expected at most {MAX_ID_BYTES}",
            text.len()
        );
    }
    Ok(())
}

/// A number as a message shows it: plain when it is of everyday size,
/// in scientific notation otherwise (never 300 digits).
pub fn shown(x: f64) -> String {
    let a = x.abs();
    if x.is_finite() && a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// An amount: finite, not negative, at most [`MAX_AMOUNT`].
pub fn amount(field: &str, x: f64) -> Result<(), Rejection> {
    if !x.is_finite() {
        return Err(Rejection::new(
            Reason::BadNumber,
            Some(field),
            format!("{field} is {x}; expected a finite number"),
        ));
    }
    if x.abs() > MAX_AMOUNT {
        return Err(Rejection::new(
            Reason::BadNumber,
            Some(field),
            format!("{field} is {x:e}; expected at most {MAX_AMOUNT:e}"),
        ));
    }
    Ok(())
}

/// An id or name from event data: at most [`MAX_ID_BYTES`], no control
/// characters (they would reach terminals, file names and spreadsheets).
pub fn id(field: &str, s: &str) -> Result<(), Rejection> {
    if s.len() > MAX_ID_BYTES {
        return Err(Rejection::new(
            Reason::MalformedRow,
            Some(field),
            format!(
                "{field} is {} bytes long; expected at most {MAX_ID_BYTES}",
                s.len()
            ),
        ));
    }
    // Printable ASCII (the usual id) needs no per-character decoding.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| crate::output::encode::is_unsafe_char(c))
    {
        return Err(Rejection::new(
            Reason::MalformedRow,
            Some(field),
            format!(
                "{field} holds the control character U+{:04X}; expected printable text",
                c as u32
            ),
        ));
    }
    Ok(())
}

/// A timestamp in UTC microseconds, inside [`MIN_TS`, `MAX_TS`).
pub fn timestamp(field: &str, micros: i64) -> Result<(), Rejection> {
    if !(MIN_TS..MAX_TS).contains(&micros) {
        return Err(Rejection::new(
            Reason::BadTimestamp,
            Some(field),
            format!("{field} is outside 2000–2100"),
        ));
    }
    Ok(())
}

/// Every value of a mapped event.
pub fn event(e: &Event) -> Result<(), Rejection> {
    use crate::schema as col;
    timestamp(col::TS, e.ts)?;
    id(col::CUSTOMER_ID, &e.customer_id)?;
    for (name, v) in [
        (col::CART_ID, &e.cart_id),
        (col::ORDER_ID, &e.order_id),
        (col::COUPON, &e.coupon),
        (col::CHANNEL, &e.channel),
        (col::VARIANT, &e.variant),
        (col::CUSTOMER_STATUS, &e.customer_status),
        (col::CURRENCY, &e.currency),
    ] {
        if let Some(s) = v {
            id(name, s)?;
        }
    }
    for (name, v) in [(col::VALUE, e.value), (col::DISCOUNT, e.discount)] {
        if let Some(x) = v {
            amount(name, x)?;
        }
    }
    Ok(())
}

/// A carts table read back from a file (it may have been made or edited
/// elsewhere): every money column finite and within [`MAX_AMOUNT`]. The
/// first bad cell is an error naming the file, row and column.
pub fn carts_table(df: &polars::prelude::DataFrame, path: &std::path::Path) -> anyhow::Result<()> {
    use crate::flow::carts as c;
    for name in [
        c::CART_VALUE,
        c::ORDER_VALUE,
        c::REFUNDED,
        c::REVENUE,
        c::DISCOUNT,
        c::MESSAGE_COST,
        c::CUSTOMER_PRIOR_SPEND,
    ] {
        let Ok(column) = df.column(name) else {
            continue;
        };
        let Ok(values) = column.f64() else {
            continue;
        };
        if let Some((row, x)) = values.iter().enumerate().find_map(|(i, v)| {
            v.filter(|x| !x.is_finite() || x.abs() > MAX_AMOUNT)
                .map(|x| (i, x))
        }) {
            anyhow::bail!(
                "{}: row {row}: column `{name}` is {}; expected a finite amount of at most {MAX_AMOUNT:e}",
                path.display(),
                shown(x)
            );
        }
    }
    Ok(())
}

/// Cuts a raw row to [`MAX_RAW_BYTES`] (on a character boundary), noting
/// the full length, so one huge row never makes a huge quarantine file.
pub fn shorten_raw(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.len() <= MAX_RAW_BYTES {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut end = MAX_RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}… [cut: {} bytes in all]",
        &raw[..end],
        raw.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_finite_and_bounded() {
        assert!(amount("value", 42.0).is_ok());
        assert!(amount("value", 1e12).is_ok());
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            1.0e12 + 1.0,
        ] {
            let r = amount("value", bad).unwrap_err();
            assert_eq!(r.reason, Reason::BadNumber);
            assert_eq!(r.field.as_deref(), Some("value"));
        }
    }

    #[test]
    fn numbers_are_shown_short() {
        assert_eq!(shown(1e308), "1e308");
        assert_eq!(shown(1e-300), "1e-300");
        assert_eq!(shown(42.5), "42.5");
        assert_eq!(shown(f64::NAN), "NaN");
    }

    #[test]
    fn ids_are_printable_and_short() {
        assert!(id("customer_id", "alice@example.com").is_ok());
        assert!(id("customer_id", "a\u{1b}[31m").is_err());
        assert!(id("customer_id", &"x".repeat(MAX_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn raw_rows_are_cut() {
        let long = "é".repeat(MAX_RAW_BYTES);
        let cut = shorten_raw(&long);
        assert!(cut.len() < MAX_RAW_BYTES + 64);
        assert!(cut.contains("bytes in all"));
        assert_eq!(shorten_raw("short"), "short");
    }
}
