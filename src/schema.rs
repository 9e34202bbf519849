//! Column names and event kinds of the canonical schema, in one place.
//!
//! Every stage refers to columns through these constants so a rename is a
//! one-line change and a typo is a compile error.

use std::fmt;

pub const TS: &str = "ts";
pub const EVENT: &str = "event";
pub const CUSTOMER_ID: &str = "customer_id";
pub const CART_ID: &str = "cart_id";
pub const ORDER_ID: &str = "order_id";
pub const VALUE: &str = "value";
pub const DISCOUNT: &str = "discount";
pub const COUPON: &str = "coupon";
pub const FLOW_STEP: &str = "flow_step";
pub const CHANNEL: &str = "channel";
pub const VARIANT: &str = "variant";
pub const CUSTOMER_STATUS: &str = "customer_status";
pub const CURRENCY: &str = "currency";

/// The canonical columns in their canonical order.
pub const CANONICAL_COLUMNS: [&str; 13] = [
    TS,
    EVENT,
    CUSTOMER_ID,
    CART_ID,
    ORDER_ID,
    VALUE,
    DISCOUNT,
    COUPON,
    FLOW_STEP,
    CHANNEL,
    VARIANT,
    CUSTOMER_STATUS,
    CURRENCY,
];

/// Columns without which a canonical file cannot be read at all.
pub const REQUIRED_COLUMNS: [&str; 3] = [TS, EVENT, CUSTOMER_ID];

/// The event vocabulary. The discriminant order is the tie-break for events
/// that share a timestamp: cart activity before the order it led to, the
/// order before its refund, a send before its engagement.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
#[repr(u8)]
pub enum EventKind {
    CartUpdated = 0,
    CheckoutStarted = 1,
    OrderCompleted = 2,
    OrderRefunded = 3,
    OrderCancelled = 4,
    MessageSent = 5,
    MessageSuppressed = 6,
    MessageDelivered = 7,
    MessageBounced = 8,
    MessageOpened = 9,
    MessageClicked = 10,
    Unsubscribed = 11,
    SpamComplaint = 12,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::CartUpdated,
        EventKind::CheckoutStarted,
        EventKind::OrderCompleted,
        EventKind::OrderRefunded,
        EventKind::OrderCancelled,
        EventKind::MessageSent,
        EventKind::MessageSuppressed,
        EventKind::MessageDelivered,
        EventKind::MessageBounced,
        EventKind::MessageOpened,
        EventKind::MessageClicked,
        EventKind::Unsubscribed,
        EventKind::SpamComplaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CartUpdated => "cart_updated",
            EventKind::CheckoutStarted => "checkout_started",
            EventKind::OrderCompleted => "order_completed",
            EventKind::OrderRefunded => "order_refunded",
            EventKind::OrderCancelled => "order_cancelled",
            EventKind::MessageSent => "message_sent",
            EventKind::MessageSuppressed => "message_suppressed",
            EventKind::MessageDelivered => "message_delivered",
            EventKind::MessageBounced => "message_bounced",
            EventKind::MessageOpened => "message_opened",
            EventKind::MessageClicked => "message_clicked",
            EventKind::Unsubscribed => "unsubscribed",
            EventKind::SpamComplaint => "spam_complaint",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    pub fn from_code(code: u8) -> Option<EventKind> {
        EventKind::ALL.get(code as usize).copied()
    }

    pub fn is_cart_activity(self) -> bool {
        matches!(self, EventKind::CartUpdated | EventKind::CheckoutStarted)
    }

    pub fn is_order(self) -> bool {
        matches!(
            self,
            EventKind::OrderCompleted | EventKind::OrderRefunded | EventKind::OrderCancelled
        )
    }

    pub fn is_message(self) -> bool {
        self as u8 >= EventKind::MessageSent as u8
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_code(k as u8), Some(k));
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("order_placed"), None);
    }
}
