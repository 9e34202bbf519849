//! Events: read raw logs in any supported shape, map them onto the canonical
//! schema, validate, and quarantine what cannot be used — with a reason.
//!
//! Invariant: every row read is either accepted or quarantined
//! (`read = accepted + quarantined`), and nothing here panics on input.

pub mod canonical;
pub mod fields;
pub mod ga4;
pub mod ingest;
pub mod segment;
pub mod shopify;
pub mod source;
pub mod store;

use crate::schema::EventKind;

/// One event on the canonical schema. Timestamps are UTC microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: i64,
    pub kind: EventKind,
    pub customer_id: String,
    pub cart_id: Option<String>,
    pub order_id: Option<String>,
    pub value: Option<f64>,
    pub discount: Option<f64>,
    pub coupon: Option<String>,
    pub flow_step: Option<i32>,
    pub channel: Option<String>,
    pub variant: Option<String>,
    pub customer_status: Option<String>,
    pub currency: Option<String>,
}

impl Event {
    pub fn new(ts: i64, kind: EventKind, customer_id: impl Into<String>) -> Event {
        Event {
            ts,
            kind,
            customer_id: customer_id.into(),
            cart_id: None,
            order_id: None,
            value: None,
            discount: None,
            coupon: None,
            flow_step: None,
            channel: None,
            variant: None,
            customer_status: None,
            currency: None,
        }
    }
}

/// Why a row was quarantined. The code is stable (it is a column of the
/// quarantine file and a key of the report); the detail is for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub field: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    MalformedRow,
    MissingTimestamp,
    BadTimestamp,
    MissingEvent,
    UnknownEvent,
    UnmappedEvent,
    MissingCustomer,
    MissingOrderId,
    BadNumber,
    NegativeValue,
    BadFlowStep,
    DuplicateOrder,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedRow => "malformed_row",
            Reason::MissingTimestamp => "missing_timestamp",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::MissingEvent => "missing_event",
            Reason::UnknownEvent => "unknown_event",
            Reason::UnmappedEvent => "unmapped_event",
            Reason::MissingCustomer => "missing_customer_id",
            Reason::MissingOrderId => "missing_order_id",
            Reason::BadNumber => "bad_number",
            Reason::NegativeValue => "negative_value",
            Reason::BadFlowStep => "bad_flow_step",
            Reason::DuplicateOrder => "duplicate_order",
        }
    }
}

impl Rejection {
    pub fn new(reason: Reason, field: Option<&str>, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            field: field.map(str::to_string),
            detail: detail.into(),
        }
    }
}

/// Checks that hold for an event whatever shape it came from.
pub fn check_event(e: &Event) -> Result<(), Rejection> {
    if e.customer_id.trim().is_empty() {
        return Err(Rejection::new(
            Reason::MissingCustomer,
            Some("customer_id"),
            "empty customer id",
        ));
    }
    for (name, v) in [("value", e.value), ("discount", e.discount)] {
        if let Some(x) = v {
            if !x.is_finite() {
                return Err(Rejection::new(
                    Reason::BadNumber,
                    Some(name),
                    format!("{name} is {x}; expected a finite number"),
                ));
            }
            if x < 0.0 {
                return Err(Rejection::new(
                    Reason::NegativeValue,
                    Some(name),
                    format!("{name} {x} on {}; expected ≥ 0", e.kind),
                ));
            }
        }
    }
    if e.kind.is_order() && e.order_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(Rejection::new(
            Reason::MissingOrderId,
            Some("order_id"),
            format!("{} without an order id", e.kind),
        ));
    }
    if let Some(step) = e.flow_step {
        if step < 1 {
            return Err(Rejection::new(
                Reason::BadFlowStep,
                Some("flow_step"),
                format!("flow_step {step}; steps are numbered from 1"),
            ));
        }
    }
    Ok(())
}
