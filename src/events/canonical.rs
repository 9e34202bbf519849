//! The canonical shape: one row per event with the columns of `schema`.
//! Event time: `ts`. Order events go to the order ledger like any source's
//! (order ids are read per customer, as reconstruction and the SQL read
//! them).

use super::fields::{self, Cell, EpochUnit};
use super::{Event, Reason, Rejection};
use crate::schema::{self as col, EventKind};
use serde_json::{Map, Value};

pub fn map_row(row: &Map<String, Value>, epoch: EpochUnit) -> Result<Event, Rejection> {
    map_fields(|name| row.get(name), epoch)
}

/// [`map_row`] over any row: `get` gives a column's value (`None` for a
/// column the input does not have).
pub fn map_fields<'v>(
    get: impl Fn(&str) -> Option<&'v Value>,
    epoch: EpochUnit,
) -> Result<Event, Rejection> {
    map_cells(|name| get(name).map(Cell::Value), epoch)
}

/// [`map_fields`] over cells that may be text (a CSV record's fields,
/// read as JSON strings holding them would be, without making them).
pub fn map_cells<'v>(
    get: impl Fn(&str) -> Option<Cell<'v>>,
    epoch: EpochUnit,
) -> Result<Event, Rejection> {
    let ts = fields::timestamp_cell(get(col::TS), col::TS, epoch)?;
    let name = fields::text_cell(get(col::EVENT))
        .ok_or_else(|| Rejection::new(Reason::MissingEvent, Some(col::EVENT), "no event name"))?;
    let kind = EventKind::parse(&name).ok_or_else(|| {
        Rejection::new(
            Reason::UnknownEvent,
            Some(col::EVENT),
            format!("unknown event {name:?}; expected one of the canonical event names"),
        )
    })?;
    let customer = fields::text_cell(get(col::CUSTOMER_ID)).ok_or_else(|| {
        Rejection::new(
            Reason::MissingCustomer,
            Some(col::CUSTOMER_ID),
            "no customer_id",
        )
    })?;
    let mut e = Event::new(ts, kind, customer);
    e.cart_id = fields::text_cell(get(col::CART_ID));
    e.order_id = fields::text_cell(get(col::ORDER_ID));
    e.value = fields::number_cell(get(col::VALUE), col::VALUE)?;
    e.discount = fields::number_cell(get(col::DISCOUNT), col::DISCOUNT)?;
    e.coupon = fields::text_cell(get(col::COUPON));
    e.flow_step = fields::step_cell(get(col::FLOW_STEP), col::FLOW_STEP)?;
    e.channel = fields::text_cell(get(col::CHANNEL));
    e.variant = fields::text_cell(get(col::VARIANT));
    e.customer_status = fields::text_cell(get(col::CUSTOMER_STATUS));
    e.currency = fields::text_cell(get(col::CURRENCY)).map(|c| c.to_ascii_uppercase());
    Ok(e)
}

/// A row looks canonical when it carries the canonical key columns.
pub fn looks_like(keys: &[&str]) -> bool {
    keys.contains(&col::TS) && keys.contains(&col::EVENT)
}
