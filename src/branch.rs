//! Conditions on what a store knows when a cart is abandoned, shared by a
//! flow's conditional branches (`[[arms.branches]]`: which steps an entry
//! is sent) and the simulator's heterogeneous effects
//! (`[[simulation.effects]]`: who responds to what).
//!
//! A condition holds when every field it names holds: a numeric field lies
//! in `(above, at_most]` (either end may be absent), a text field
//! (`customer_status`, `capture_channel`) is `in` a list or `not_in` one. The fields are the entry-time covariates of
//! the carts table that `policy --covariates` learns from, so a policy
//! tree's path is one condition.

use crate::config::Step;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// `(above, at_most]`: `above < x ≤ at_most`, either end optional.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
}

impl Range {
    fn holds(&self, x: f64) -> bool {
        self.above.is_none_or(|a| x > a) && self.at_most.is_none_or(|b| x <= b)
    }

    /// Narrows the range to also require `x ≤ t` (`left`) or `x > t`.
    pub fn narrow(&mut self, t: f64, left: bool) {
        if left {
            self.at_most = Some(self.at_most.map_or(t, |b| b.min(t)));
        } else {
            self.above = Some(self.above.map_or(t, |a| a.max(t)));
        }
    }
}

/// A text field (`customer_status`, `capture_channel`): `in` these values,
/// or `not_in` these (not both).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub is_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<String>>,
}

impl Categories {
    fn holds(&self, v: &str) -> bool {
        self.is_in.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
            && self
                .not_in
                .as_ref()
                .is_none_or(|l| l.iter().all(|x| x != v))
    }
}

/// What is known of an entry when its cart is abandoned (the carts table's
/// entry-time columns; `cart_value` NaN when unknown).
#[derive(Debug, Clone, Copy)]
pub struct Covariates<'a> {
    pub cart_value: f64,
    pub customer_status: &'a str,
    pub customer_prior_spend: f64,
    /// 0–23, UTC.
    pub abandoned_hour: u32,
    /// 0 = Monday, UTC.
    pub abandoned_weekday: u32,
    pub prior_orders: u32,
    /// None when the customer had no earlier order (read as longer ago
    /// than any number of days).
    pub days_since_last_order: Option<f64>,
    /// Earlier orders that carried a discount (discount history).
    pub prior_discounted_orders: u32,
    /// Days from the customer's first order to the abandonment (tenure);
    /// None when they had none.
    pub days_since_first_order: Option<f64>,
    /// The channel of the cart event that opened the cart (`web`, `app`,
    /// …; `unknown` when the log gives none).
    pub capture_channel: &'a str,
}

impl Covariates<'_> {
    /// Hour (0–23) and weekday (0 = Monday) of a UTC timestamp in microseconds.
    pub fn hour_and_weekday(at_micros: i64) -> (u32, u32) {
        const HOUR_US: i64 = 3_600_000_000;
        let hour = at_micros.div_euclid(HOUR_US).rem_euclid(24) as u32;
        // 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
        let weekday = (at_micros.div_euclid(24 * HOUR_US) + 3).rem_euclid(7) as u32;
        (hour, weekday)
    }
}

/// A condition on [`Covariates`]; the empty condition always holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_value: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_status: Option<Categories>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_prior_spend: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_hour: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_weekday: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_orders: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_since_last_order: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_discounted_orders: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_since_first_order: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_channel: Option<Categories>,
}

/// The numeric fields of [`When`], by covariate name.
pub const NUMERIC_FIELDS: [&str; 8] = [
    "cart_value",
    "customer_prior_spend",
    "abandoned_hour",
    "abandoned_weekday",
    "prior_orders",
    "days_since_last_order",
    "prior_discounted_orders",
    "days_since_first_order",
];

/// The text fields of [`When`], by covariate name.
pub const TEXT_FIELDS: [&str; 2] = ["customer_status", "capture_channel"];

impl When {
    pub fn holds(&self, x: &Covariates) -> bool {
        let num = |r: &Option<Range>, v: f64| r.as_ref().is_none_or(|r| !v.is_nan() && r.holds(v));
        let text = |c: &Option<Categories>, v: &str| c.as_ref().is_none_or(|c| c.holds(v));
        num(&self.cart_value, x.cart_value)
            && text(&self.customer_status, x.customer_status)
            && text(&self.capture_channel, x.capture_channel)
            && num(&self.customer_prior_spend, x.customer_prior_spend)
            && num(&self.abandoned_hour, x.abandoned_hour as f64)
            && num(&self.abandoned_weekday, x.abandoned_weekday as f64)
            && num(&self.prior_orders, x.prior_orders as f64)
            && num(
                &self.days_since_last_order,
                x.days_since_last_order.unwrap_or(f64::INFINITY),
            )
            && num(
                &self.prior_discounted_orders,
                x.prior_discounted_orders as f64,
            )
            && num(
                &self.days_since_first_order,
                x.days_since_first_order.unwrap_or(f64::INFINITY),
            )
    }

    /// The range of a numeric field by name (see [`NUMERIC_FIELDS`]).
    pub fn range_mut(&mut self, field: &str) -> Option<&mut Option<Range>> {
        Some(match field {
            "cart_value" => &mut self.cart_value,
            "customer_prior_spend" => &mut self.customer_prior_spend,
            "abandoned_hour" => &mut self.abandoned_hour,
            "abandoned_weekday" => &mut self.abandoned_weekday,
            "prior_orders" => &mut self.prior_orders,
            "days_since_last_order" => &mut self.days_since_last_order,
            "prior_discounted_orders" => &mut self.prior_discounted_orders,
            "days_since_first_order" => &mut self.days_since_first_order,
            _ => return None,
        })
    }

    /// The list of a text field by name (see [`TEXT_FIELDS`]).
    pub fn categories_mut(&mut self, field: &str) -> Option<&mut Option<Categories>> {
        Some(match field {
            "customer_status" => &mut self.customer_status,
            "capture_channel" => &mut self.capture_channel,
            _ => return None,
        })
    }

    fn categories(&self) -> [(&'static str, &Option<Categories>); 2] {
        [
            ("customer_status", &self.customer_status),
            ("capture_channel", &self.capture_channel),
        ]
    }

    /// Both conditions at once; `None` when no entry can satisfy both (an
    /// empty range or status list).
    pub fn and(&self, other: &When) -> Option<When> {
        let mut out = self.clone();
        for (name, r) in other.ranges() {
            let Some(r) = *r else { continue };
            let slot = out.range_mut(name).expect("a numeric field");
            let merged = match *slot {
                None => r,
                Some(mine) => Range {
                    above: match (mine.above, r.above) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                    at_most: match (mine.at_most, r.at_most) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                },
            };
            if let (Some(a), Some(b)) = (merged.above, merged.at_most) {
                if a >= b {
                    return None;
                }
            }
            *slot = Some(merged);
        }
        for (name, theirs) in other.categories() {
            let Some(theirs) = theirs else { continue };
            let slot = out.categories_mut(name).expect("a text field");
            let mine = slot.take().unwrap_or_default();
            let is_in = match (mine.is_in, theirs.is_in.clone()) {
                (Some(a), Some(b)) => Some(a.into_iter().filter(|v| b.contains(v)).collect()),
                (a, b) => a.or(b),
            };
            let mut not_in: Vec<String> = mine
                .not_in
                .into_iter()
                .flatten()
                .chain(theirs.not_in.iter().flatten().cloned())
                .collect();
            not_in.sort();
            not_in.dedup();
            *slot = Some(match is_in {
                Some(list) => {
                    let list: Vec<String> =
                        list.into_iter().filter(|v| !not_in.contains(v)).collect();
                    if list.is_empty() {
                        return None;
                    }
                    Categories {
                        is_in: Some(list),
                        not_in: None,
                    }
                }
                None => Categories {
                    is_in: None,
                    not_in: Some(not_in),
                },
            });
        }
        Some(out)
    }

    /// No field named: every entry satisfies it.
    pub fn is_empty(&self) -> bool {
        self.ranges().iter().all(|(_, r)| r.is_none())
            && self.categories().iter().all(|(_, c)| c.is_none())
    }

    /// Whether every entry that satisfies `self` also satisfies `other`
    /// (so a branch on `self` after one on `other` is never taken). Exact
    /// for ranges over real values and for value lists; conservative (may
    /// answer `false`) where only whole numbers occur between two bounds.
    pub fn covered_by(&self, other: &When) -> bool {
        let ranges = self.ranges().into_iter().zip(other.ranges());
        let ranges_ok = ranges.into_iter().all(|((_, mine), (_, theirs))| {
            let Some(theirs) = theirs else { return true };
            // Without a range of its own, `self` also admits unknown values,
            // which no range admits.
            let Some(mine) = mine else { return false };
            let lower = match (theirs.above, mine.above) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(t), Some(m)) => t <= m,
            };
            let upper = match (theirs.at_most, mine.at_most) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(t), Some(m)) => m <= t,
            };
            lower && upper
        });
        let lists = self.categories().into_iter().zip(other.categories());
        let lists_ok = lists.into_iter().all(|((_, mine), (_, theirs))| {
            let Some(theirs) = theirs else { return true };
            let allowed_by_them = |v: &str| theirs.holds(v);
            match mine.as_ref().and_then(|m| m.is_in.as_ref()) {
                Some(list) => {
                    let excluded = mine.as_ref().and_then(|m| m.not_in.as_ref());
                    list.iter()
                        .filter(|v| excluded.is_none_or(|n| !n.contains(v)))
                        .all(|v| allowed_by_them(v))
                }
                // `self` admits every value outside a finite list (or all):
                // covered only if `other` excludes nothing `self` admits.
                None => {
                    let mine_out: &[String] = mine
                        .as_ref()
                        .and_then(|m| m.not_in.as_deref())
                        .unwrap_or(&[]);
                    theirs.is_in.is_none()
                        && theirs.not_in.iter().flatten().all(|v| mine_out.contains(v))
                }
            }
        });
        ranges_ok && lists_ok
    }

    fn ranges(&self) -> [(&'static str, &Option<Range>); 8] {
        [
            ("cart_value", &self.cart_value),
            ("customer_prior_spend", &self.customer_prior_spend),
            ("abandoned_hour", &self.abandoned_hour),
            ("abandoned_weekday", &self.abandoned_weekday),
            ("prior_orders", &self.prior_orders),
            ("days_since_last_order", &self.days_since_last_order),
            ("prior_discounted_orders", &self.prior_discounted_orders),
            ("days_since_first_order", &self.days_since_first_order),
        ]
    }

    /// What a flow file can hold, whether or not any entry can meet it:
    /// every bound finite and at most [`crate::validate::MAX_AMOUNT`], every
    /// listed value printable, bounded and without surrounding spaces. `at`
    /// names the table in errors.
    pub fn check_values(&self, at: &str) -> Result<()> {
        for (name, r) in self.ranges() {
            let Some(r) = r else { continue };
            for (end, v) in [("above", r.above), ("at_most", r.at_most)] {
                if v.is_some_and(|v| !v.is_finite() || v.abs() > crate::validate::MAX_AMOUNT) {
                    bail!(
                        "field `{at}.when.{name}.{end}`: expected a finite number of at most {:e}",
                        crate::validate::MAX_AMOUNT
                    );
                }
            }
        }
        for (name, c) in self.categories() {
            let Some(c) = c else { continue };
            for v in c.is_in.iter().chain(c.not_in.iter()).flatten() {
                category_value(&format!("{at}.when.{name}"), v)?;
            }
        }
        Ok(())
    }

    /// [`When::check_values`], and some entry can meet the condition:
    /// `above < at_most` within what the field can hold; `in`/`not_in` not
    /// both, not empty. `at` names the table in errors.
    pub fn validate(&self, at: &str) -> Result<()> {
        self.check_values(at)?;
        for (name, r) in self.ranges() {
            let Some(r) = r else { continue };
            if let (Some(a), Some(b)) = (r.above, r.at_most) {
                if a >= b {
                    bail!("field `{at}.when.{name}`: `above` ({a}) must be below `at_most` ({b}); no entry could match");
                }
            }
            if r.above.is_none() && r.at_most.is_none() {
                bail!("field `{at}.when.{name}`: expected `above`, `at_most` or both");
            }
            // What the field can hold: a range outside it matches no entry.
            let (lo, hi, whole) = match name {
                "abandoned_hour" => (0.0, 23.0, true),
                "abandoned_weekday" => (0.0, 6.0, true),
                "prior_orders" | "prior_discounted_orders" => (0.0, f64::INFINITY, true),
                _ => (0.0, f64::INFINITY, false),
            };
            let above = r.above.unwrap_or(f64::NEG_INFINITY);
            let at_most = r.at_most.unwrap_or(f64::INFINITY).min(hi);
            let empty = if whole {
                // Whole numbers: the smallest above `above` must be ≤ at_most.
                let first = if above < lo { lo } else { above.floor() + 1.0 };
                first > at_most
            } else {
                at_most < lo
            };
            if empty {
                bail!(
                    "field `{at}.when.{name}`: no entry can match ({}); {name} is {}",
                    describe_range(name, r),
                    match name {
                        "abandoned_hour" => "a whole hour from 0 to 23",
                        "abandoned_weekday" => "a whole day from 0 (Monday) to 6",
                        "prior_orders" | "prior_discounted_orders" => "a whole number from 0",
                        _ => "never negative",
                    }
                );
            }
        }
        for (name, c) in self.categories() {
            let Some(c) = c else { continue };
            match (&c.is_in, &c.not_in) {
                (Some(_), Some(_)) => {
                    bail!("field `{at}.when.{name}`: expected `in` or `not_in`, not both")
                }
                (None, None) => {
                    bail!("field `{at}.when.{name}`: expected `in` or `not_in`")
                }
                (Some(l), None) if l.is_empty() => {
                    bail!("field `{at}.when.{name}.in`: an empty list matches no entry")
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A short human reading: `cart_value > 80, customer_status in [new]`;
    /// `every entry` when empty.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, r) in self.ranges() {
            let Some(r) = r else { continue };
            if r.above.is_some() || r.at_most.is_some() {
                parts.push(describe_range(name, r));
            }
        }
        for (name, c) in self.categories() {
            let Some(c) = c else { continue };
            if let Some(l) = &c.is_in {
                parts.push(format!("{name} in [{}]", l.join(", ")));
            }
            if let Some(l) = &c.not_in {
                parts.push(format!("{name} not in [{}]", l.join(", ")));
            }
        }
        if parts.is_empty() {
            "every entry".into()
        } else {
            parts.join(", ")
        }
    }
}

/// A value of a text field as a condition may list it: printable and
/// bounded ([`crate::validate::config_text`]), not empty and without
/// leading or trailing spaces (the event readers trim cells, and read an
/// empty one as absent, so no entry could carry such a value).
pub fn category_value(field: &str, v: &str) -> Result<()> {
    crate::validate::config_text(field, v)?;
    if v.is_empty() {
        bail!("field `{field}`: an empty value; entries without one read as `unknown`");
    }
    if v.trim() != v {
        bail!("field `{field}`: `{v}` has leading or trailing spaces, which the event readers trim away");
    }
    Ok(())
}

fn describe_range(name: &str, r: &Range) -> String {
    match (r.above, r.at_most) {
        (Some(a), Some(b)) => format!("{a} < {name} <= {b}"),
        (Some(a), None) => format!("{name} > {a}"),
        (None, Some(b)) => format!("{name} <= {b}"),
        (None, None) => format!("any {name}"),
    }
}

/// `[[arms.branches]]`: entries whose covariates satisfy `when` are sent
/// `steps` (none: nothing is sent) instead of the arm's own steps. The first
/// branch that holds wins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// A short label (e.g. the arm of the experiment this branch sends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub when: When,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(value: f64, status: &str, orders: u32, days: Option<f64>) -> Covariates<'_> {
        Covariates {
            cart_value: value,
            customer_status: status,
            customer_prior_spend: 0.0,
            abandoned_hour: 20,
            abandoned_weekday: 2,
            prior_orders: orders,
            days_since_last_order: days,
            prior_discounted_orders: 0,
            days_since_first_order: days,
            capture_channel: "web",
        }
    }

    #[test]
    fn a_condition_covered_by_another_is_found() {
        let w = |t: &str| -> When { toml::from_str(t).unwrap() };
        let wide = w("cart_value = { above = 50 }\ncustomer_status = { not_in = ['loyalty'] }");
        assert!(
            w("cart_value = { above = 60, at_most = 90 }\ncustomer_status = { in = ['new'] }")
                .covered_by(&wide)
        );
        assert!(wide.covered_by(&wide), "a duplicate");
        assert!(w(
            "cart_value = { above = 50 }\ncustomer_status = { not_in = ['loyalty', 'new'] }"
        )
        .covered_by(&wide));
        assert!(w("prior_orders = { above = 1 }").covered_by(&When::default()));
        // Not covered: a wider range, unknown values, an unlisted status.
        assert!(
            !w("cart_value = { above = 40 }\ncustomer_status = { in = ['new'] }").covered_by(&wide)
        );
        assert!(
            !w("customer_status = { in = ['new'] }").covered_by(&wide),
            "no cart value"
        );
        assert!(
            !w("cart_value = { above = 60 }\ncustomer_status = { in = ['loyalty'] }")
                .covered_by(&wide)
        );
        assert!(
            !w("cart_value = { above = 60 }").covered_by(&wide),
            "any status"
        );
        assert!(!When::default().covered_by(&wide));
        assert!(
            !w("cart_value = { above = 60 }\ncustomer_status = { not_in = ['new'] }")
                .covered_by(&wide)
        );
    }

    #[test]
    fn conditions_are_half_open_ranges_and_status_lists() {
        let w: When = toml::from_str(
            "cart_value = { above = 50, at_most = 200 }\n\
             customer_status = { not_in = ['loyalty'] }\n\
             days_since_last_order = { above = 30 }",
        )
        .unwrap();
        w.validate("arms[1].branches[0]").unwrap();
        assert!(
            w.holds(&x(51.0, "new", 0, None)),
            "no order reads as long ago"
        );
        assert!(w.holds(&x(200.0, "returning", 2, Some(31.0))));
        assert!(!w.holds(&x(50.0, "new", 0, None)), "above is strict");
        assert!(!w.holds(&x(200.01, "new", 0, None)));
        assert!(!w.holds(&x(f64::NAN, "new", 0, None)), "unknown value");
        assert!(!w.holds(&x(100.0, "loyalty", 0, None)));
        assert!(!w.holds(&x(100.0, "new", 1, Some(30.0))));
        assert!(When::default().holds(&x(f64::NAN, "", 0, None)));
        assert_eq!(
            w.describe(),
            "50 < cart_value <= 200, days_since_last_order > 30, customer_status not in [loyalty]"
        );
    }

    #[test]
    fn bad_conditions_name_the_field() {
        for (text, want) in [
            ("cart_value = { above = 5, at_most = 5 }", "when.cart_value"),
            ("prior_orders = {}", "when.prior_orders"),
            ("customer_status = { in = [] }", "customer_status.in"),
            (
                "customer_status = { in = ['a'], not_in = ['b'] }",
                "not both",
            ),
        ] {
            let w: When = toml::from_str(text).unwrap();
            let e = w.validate("arms[1].branches[0]").unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<When>("colour = { above = 1 }").is_err());
    }

    #[test]
    fn conditions_no_entry_can_meet_are_refused() {
        for text in [
            "abandoned_hour = { above = -5, at_most = -1 }",
            "abandoned_hour = { above = 23 }",
            "abandoned_weekday = { above = 6, at_most = 100 }",
            "prior_orders = { above = 0.2, at_most = 0.9 }",
            "cart_value = { at_most = -5 }",
        ] {
            let w: When = toml::from_str(text).unwrap();
            let e = w.validate("arms[1].branches[0]").unwrap_err().to_string();
            assert!(e.contains("no entry can match"), "{text}: {e}");
        }
        for text in [
            "abandoned_hour = { above = 22.5 }",
            "prior_orders = { at_most = 0 }",
            "abandoned_weekday = { above = -1, at_most = 0 }",
            "cart_value = { at_most = 0 }",
        ] {
            let w: When = toml::from_str(text).unwrap();
            w.validate("x").unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let long = format!("customer_status = {{ in = ['{}'] }}", "s".repeat(600));
        let w: When = toml::from_str(&long).unwrap();
        assert!(w
            .validate("x")
            .unwrap_err()
            .to_string()
            .contains("600 bytes"));
    }

    #[test]
    fn two_conditions_combine_into_one() {
        let a: When = toml::from_str(
            "cart_value = { above = 50 }\ncustomer_status = { not_in = ['loyalty'] }",
        )
        .unwrap();
        let b: When = toml::from_str(
            "cart_value = { above = 20, at_most = 80 }\ncustomer_status = { in = ['new', 'loyalty'] }",
        )
        .unwrap();
        let both = a.and(&b).unwrap();
        assert_eq!(
            both.describe(),
            "50 < cart_value <= 80, customer_status in [new]"
        );
        let c: When = toml::from_str("cart_value = { at_most = 50 }").unwrap();
        assert!(a.and(&c).is_none(), "no cart is above 50 and at most 50");
        let d: When = toml::from_str("customer_status = { in = ['loyalty'] }").unwrap();
        assert!(a.and(&d).is_none());
        assert_eq!(When::default().and(&a), Some(a.clone()));
        assert!(When::default().is_empty() && !a.is_empty());
    }

    #[test]
    fn discount_history_tenure_and_capture_channel() {
        let w: When = toml::from_str(
            "prior_discounted_orders = { at_most = 0 }\n\
             days_since_first_order = { above = 30 }\n\
             capture_channel = { in = ['app'] }",
        )
        .unwrap();
        w.validate("x").unwrap();
        let mut e = x(60.0, "new", 2, Some(40.0));
        assert!(!w.holds(&e), "captured on the web");
        e.capture_channel = "app";
        assert!(w.holds(&e));
        e.prior_discounted_orders = 1;
        assert!(!w.holds(&e), "a discounted order behind them");
        e.prior_discounted_orders = 0;
        e.days_since_first_order = None;
        assert!(
            w.holds(&e),
            "no order yet reads as longer ago than any tenure"
        );
        assert_eq!(
            w.describe(),
            "prior_discounted_orders <= 0, days_since_first_order > 30, capture_channel in [app]"
        );
        let web: When = toml::from_str("capture_channel = { not_in = ['app'] }").unwrap();
        assert!(w.and(&web).is_none(), "app and not app");
        for (text, want) in [
            (
                "prior_discounted_orders = { above = 0.1, at_most = 0.9 }",
                "no entry can match",
            ),
            ("capture_channel = { in = [] }", "capture_channel.in"),
            ("capture_channel = { in = [''] }", "an empty value"),
            (
                "capture_channel = { not_in = ['web '] }",
                "leading or trailing spaces",
            ),
            (
                "customer_status = { in = [' new'] }",
                "leading or trailing spaces",
            ),
        ] {
            let w: When = toml::from_str(text).unwrap();
            let err = w.validate("b").unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn hour_and_weekday_of_a_timestamp() {
        // 2026-03-02T19:30:00Z is a Monday.
        let t = 1_772_479_800i64 * 1_000_000;
        assert_eq!(Covariates::hour_and_weekday(t), (19, 0));
    }
}
