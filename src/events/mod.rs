//! Events: read raw logs in any supported shape, map them onto the canonical
//! schema, validate, and quarantine what cannot be used — with a reason.
//!
//! Invariant: every row read is either accepted or quarantined
//! (`read = accepted + quarantined`), and nothing here panics on input.

pub mod canonical;
pub mod fields;
pub mod ga4;
pub mod identity;
pub mod ingest;
pub mod klaviyo;
pub mod ledger;
pub mod segment;
pub mod shopify;
pub mod source;
pub mod spill;
pub mod store;

use crate::schema::EventKind;

/// One event on the canonical schema. Timestamps are UTC microseconds.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
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

/// What one input row maps to: canonical events (carts, checkouts,
/// messages), payloads about orders (for the ledger), and the customer
/// identifiers the row carries together (aliases of one customer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    pub events: Vec<Event>,
    pub orders: Vec<ledger::OrderPayload>,
    pub ids: Vec<(identity::IdKind, String)>,
}

impl Mapped {
    pub fn event(e: Event) -> Mapped {
        let ids = vec![(
            identity::kind_of_bare(&e.customer_id),
            e.customer_id.clone(),
        )];
        Mapped {
            events: vec![e],
            ..Mapped::default()
        }
        .with_ids(ids)
    }

    pub fn order(p: ledger::OrderPayload) -> Mapped {
        let ids = p
            .customer
            .iter()
            .map(|c| (identity::kind_of_bare(c), c.clone()))
            .collect();
        Mapped {
            orders: vec![p],
            ..Mapped::default()
        }
        .with_ids(ids)
    }

    pub fn with_ids(mut self, ids: Vec<(identity::IdKind, String)>) -> Mapped {
        self.ids = ids;
        self
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
    DuplicateEvent,
    OrderIdReused,
    UnknownOrder,
    MissingRefundAmount,
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
            Reason::DuplicateEvent => "duplicate_event",
            Reason::OrderIdReused => "order_id_reused",
            Reason::UnknownOrder => "unknown_order",
            Reason::MissingRefundAmount => "missing_refund_amount",
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
            if x.abs() > fields::MAX_NUMBER {
                return Err(Rejection::new(
                    Reason::BadNumber,
                    Some(name),
                    format!("{name} is {x}; above the plausibility ceiling of 1e12"),
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
