//! A Klaviyo flow definition as cartlift reads and writes it: the trigger
//! metric, the re-entry rule and the actions as a graph keyed by action id.
//!
//! Reading accepts both a `GET /api/flows/{id}?additional-fields[flow]=definition`
//! response (actions carry `id`) and a `POST /api/flows` body (actions carry
//! `temporary_id`). Action types cartlift does not model are kept as
//! [`Kind::Other`] with their outgoing links, so the translation can name
//! them in a warning and follow the flow past them. Writing produces the
//! `POST /api/flows` body; `serde_json`'s maps are ordered, so the same
//! definition always gives the same bytes.

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The profile property that carries a customer's cartlift arm.
pub const ARM_PROPERTY: &str = "cartlift_arm";
/// The metric property a Klaviyo checkout or cart event carries its value in.
pub const VALUE_FIELD: &str = "$value";
/// Written in place of the trigger metric's id when the flow file does not
/// know it; a definition naming this id reads as "trigger unknown".
pub const UNKNOWN_METRIC_ID: &str = "TRIGGER_METRIC_ID";
/// The most actions a definition may have, read or written (a recovery
/// flow has tens).
pub const MAX_ACTIONS: usize = 5000;

/// A flow definition: trigger, re-entry, actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// `data.id` of a GET response; `None` in a create body.
    pub flow_id: Option<String>,
    pub name: String,
    /// The trigger metric's id (`None` when absent or [`UNKNOWN_METRIC_ID`]).
    pub trigger_metric_id: Option<String>,
    pub reentry: Option<Reentry>,
    /// Id of the first action; `None` for an empty flow.
    pub entry: Option<String>,
    /// Actions in the order the document lists them.
    pub actions: Vec<Action>,
}

/// `reentry_criteria`: when a profile may enter the flow again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reentry {
    /// `alltime`, duration 1: never again.
    Never,
    /// `alltime`, duration 0: every time the trigger fires.
    Always,
    /// Once per this many seconds.
    After(i64),
}

/// One action: its id (`id` or `temporary_id`) and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub id: String,
    pub kind: Kind,
}

/// Numeric comparison of a value split: `value OP threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Lt,
    Le,
}

impl Op {
    fn klaviyo(self) -> &'static str {
        match self {
            Op::Ge => "greater-than-or-equal",
            Op::Gt => "greater-than",
            Op::Lt => "less-than",
            Op::Le => "less-than-or-equal",
        }
    }
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "greater-than-or-equal" => Op::Ge,
            "greater-than" => Op::Gt,
            "less-than" => Op::Lt,
            "less-than-or-equal" => Op::Le,
            _ => return None,
        })
    }
    /// `>=`, `>`, `<`, `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// What an action does, as far as cartlift models it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `time-delay`: wait `seconds`; `calendar` describes a wait until a
    /// time of day or weekday, which cartlift cannot model.
    Delay {
        seconds: i64,
        calendar: Option<String>,
        next: Option<String>,
    },
    /// `send-email`, `send-sms`, `send-push-notification` (also the main
    /// message of an `ab-test`).
    Send {
        /// cartlift channel: `email`, `sms` or `push`.
        channel: String,
        /// The message's name.
        name: Option<String>,
        /// The message's Klaviyo id (GET responses only).
        message_id: Option<String>,
        /// `disabled`, `draft`, `live`, `manual`.
        status: Option<String>,
        /// Set when the send was read out of an `ab-test` (what was ignored).
        ab_test: Option<String>,
        /// The subject line (e-mail) or body (SMS, push); on export, a
        /// placeholder naming the message to write or copy.
        content: String,
        next: Option<String>,
    },
    /// `conditional-split` on `properties['cartlift_arm'] equals ARM`.
    ArmSplit {
        arm: String,
        yes: Option<String>,
        no: Option<String>,
    },
    /// `trigger-split` on the trigger event's value: `$value OP threshold`.
    ValueSplit {
        op: Op,
        threshold: f64,
        yes: Option<String>,
        no: Option<String>,
    },
    /// Any other action: its type, what it does, and where it leads
    /// (label, next action id).
    Other {
        type_name: String,
        detail: String,
        branches: Vec<(String, Option<String>)>,
    },
}

impl Kind {
    /// Every action id this one links to.
    pub fn links(&self) -> Vec<Option<&String>> {
        match self {
            Kind::Delay { next, .. } | Kind::Send { next, .. } => vec![next.as_ref()],
            Kind::ArmSplit { yes, no, .. } | Kind::ValueSplit { yes, no, .. } => {
                vec![yes.as_ref(), no.as_ref()]
            }
            Kind::Other { branches, .. } => branches.iter().map(|(_, b)| b.as_ref()).collect(),
        }
    }
}

impl Definition {
    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// Reads a GET response or a create body. Errors name the JSON path
    /// and what was expected.
    pub fn from_json(doc: &Value) -> Result<Definition> {
        let data = doc
            .get("data")
            .ok_or_else(|| anyhow!("no `data` object: expected a Klaviyo flow (GET /api/flows/{{id}}?additional-fields[flow]=definition)"))?;
        if data.is_array() {
            bail!("`data` is a list: expected one flow (GET /api/flows/{{id}}, not /api/flows)");
        }
        let attributes = data
            .get("attributes")
            .ok_or_else(|| anyhow!("no `data.attributes`: expected a flow object"))?;
        let def = attributes
            .get("definition")
            .filter(|d| !d.is_null())
            .ok_or_else(|| {
                anyhow!("no `data.attributes.definition`: fetch the flow with `?additional-fields[flow]=definition`")
            })?;
        let name = attributes
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let flow_id = data.get("id").and_then(id_string);
        let trigger_metric_id = read_trigger(def)?;
        let reentry = read_reentry(def.get("reentry_criteria"))?;
        let actions = def
            .get("actions")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                anyhow!("`data.attributes.definition.actions`: expected an array of actions")
            })?;
        if actions.len() > MAX_ACTIONS {
            bail!(
                "`data.attributes.definition.actions`: {} actions; expected at most {MAX_ACTIONS}",
                actions.len()
            );
        }
        let mut out = Vec::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            let at = format!("data.attributes.definition.actions[{i}]");
            let id = a
                .get("id")
                .and_then(id_string)
                .or_else(|| a.get("temporary_id").and_then(id_string))
                .ok_or_else(|| anyhow!("`{at}`: expected an `id` or `temporary_id`"))?;
            if out.iter().any(|x: &Action| x.id == id) {
                bail!("`{at}`: action id `{id}` is used twice");
            }
            let kind = read_action(a, &at)?;
            out.push(Action { id, kind });
        }
        let entry = def.get("entry_action_id").and_then(id_string);
        let d = Definition {
            flow_id,
            name,
            trigger_metric_id,
            reentry,
            entry,
            actions: out,
        };
        d.check_links()?;
        Ok(d)
    }

    /// Every link names an action of the definition.
    pub fn check_links(&self) -> Result<()> {
        if let Some(e) = &self.entry {
            if self.action(e).is_none() {
                bail!("`entry_action_id`: `{e}` names no action of the definition");
            }
        }
        // A flow is a tree: branches never join again, so no action has two
        // parents (and walking every branch stays linear in the actions).
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        for a in &self.actions {
            for l in a.kind.links().into_iter().flatten() {
                if self.action(l).is_none() {
                    bail!(
                        "action `{}` links to `{l}`, which is no action of the definition",
                        a.id
                    );
                }
                if let Some(first) = parent.insert(l, &a.id) {
                    bail!(
                        "action `{l}` is reached from both `{first}` and `{}`; expected a tree of actions (Klaviyo branches do not join)",
                        a.id
                    );
                }
            }
        }
        Ok(())
    }

    /// The `POST /api/flows` request body.
    pub fn to_create_body(&self) -> Value {
        let metric = self
            .trigger_metric_id
            .clone()
            .unwrap_or_else(|| UNKNOWN_METRIC_ID.into());
        let actions: Vec<Value> = self
            .actions
            .iter()
            .map(|a| write_action(a, &metric))
            .collect();
        let reentry = self.reentry.map(|r| match r {
            Reentry::Never => json!({"duration": 1, "unit": "alltime"}),
            Reentry::Always => json!({"duration": 0, "unit": "alltime"}),
            Reentry::After(s) if s % 86_400 == 0 => json!({"duration": s / 86_400, "unit": "day"}),
            Reentry::After(s) => json!({"duration": s / 3600, "unit": "hour"}),
        });
        json!({
            "data": {
                "type": "flow",
                "attributes": {
                    "name": self.name,
                    "definition": {
                        "triggers": [{"type": "metric", "id": metric}],
                        "profile_filter": null,
                        "reentry_criteria": reentry,
                        "entry_action_id": self.entry,
                        "actions": actions,
                    }
                }
            }
        })
    }
}

/// An id written as a string (or, leniently, a number).
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn read_trigger(def: &Value) -> Result<Option<String>> {
    let triggers = def
        .get("triggers")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            anyhow!("`data.attributes.definition.triggers`: expected an array with the trigger")
        })?;
    let Some(t) = triggers.first() else {
        bail!("`data.attributes.definition.triggers`: empty; expected the flow's metric trigger (Started Checkout or Added to Cart)");
    };
    let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "metric" {
        bail!(
            "`data.attributes.definition.triggers[0].type`: `{kind}`; expected `metric` (a cart recovery flow starts on Started Checkout or Added to Cart)"
        );
    }
    Ok(t.get("id")
        .and_then(id_string)
        .filter(|id| id != UNKNOWN_METRIC_ID))
}

fn read_reentry(v: Option<&Value>) -> Result<Option<Reentry>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let at = "data.attributes.definition.reentry_criteria";
    let n = v
        .get("duration")
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| anyhow!("`{at}.duration`: expected a non-negative integer"))?;
    let unit = v.get("unit").and_then(Value::as_str).unwrap_or("");
    let per = match unit {
        "alltime" => {
            return Ok(Some(if n == 0 {
                Reentry::Always
            } else {
                Reentry::Never
            }))
        }
        "hour" => 3600,
        "day" => 86_400,
        "week" => 604_800,
        _ => bail!("`{at}.unit`: `{unit}`; expected hour, day, week or alltime"),
    };
    let s = n
        .checked_mul(per)
        .ok_or_else(|| anyhow!("`{at}.duration`: {n} {unit}s is too long"))?;
    Ok(Some(Reentry::After(s)))
}

fn link(a: &Value, key: &str) -> Option<String> {
    a.get("links").and_then(|l| l.get(key)).and_then(id_string)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn read_action(a: &Value, at: &str) -> Result<Kind> {
    let type_name = a
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("`{at}.type`: expected the action's type"))?;
    let data = a.get("data").unwrap_or(&Value::Null);
    Ok(match type_name {
        "time-delay" => read_delay(data, at, link(a, "next"))?,
        "send-email" | "send-sms" | "send-push-notification" => {
            read_send(type_name, data, None, link(a, "next"))
        }
        "ab-test" => match data.get("main_action") {
            Some(main) => {
                let inner = main.get("type").and_then(Value::as_str).unwrap_or("");
                let inner_data = main.get("data").unwrap_or(&Value::Null);
                match inner {
                    "send-email" | "send-sms" => read_send(
                        inner,
                        inner_data,
                        Some("its experiment variations".into()),
                        link(a, "next"),
                    ),
                    _ => other(type_name, "an A/B test without a message", a),
                }
            }
            None => other(type_name, "an A/B test without a main message", a),
        },
        "conditional-split" => match arm_condition(data) {
            Some(arm) => Kind::ArmSplit {
                arm,
                yes: link(a, "next_if_true"),
                no: link(a, "next_if_false"),
            },
            None => other(type_name, &describe_profile_split(data), a),
        },
        "trigger-split" => match value_condition(data) {
            Some((op, threshold)) => Kind::ValueSplit {
                op,
                threshold,
                yes: link(a, "next_if_true"),
                no: link(a, "next_if_false"),
            },
            None => other(type_name, &describe_trigger_split(data), a),
        },
        "multi-branch-split" => {
            let branches = data
                .get("branches")
                .and_then(Value::as_array)
                .map(|bs| {
                    bs.iter()
                        .enumerate()
                        .map(|(i, b)| {
                            let label = b
                                .get("name")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(|| format!("branch {}", i + 1));
                            (
                                label,
                                b.get("links")
                                    .and_then(|l| l.get("next"))
                                    .and_then(id_string),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Kind::Other {
                type_name: type_name.into(),
                detail: "a split into several branches".into(),
                branches,
            }
        }
        _ => other(type_name, "a kind of action", a),
    })
}

fn other(type_name: &str, detail: &str, a: &Value) -> Kind {
    let links = a.get("links").and_then(Value::as_object);
    let mut branches = Vec::new();
    if let Some(l) = links {
        if l.contains_key("next_if_true") || l.contains_key("next_if_false") {
            branches.push(("yes".into(), link(a, "next_if_true")));
            branches.push(("no".into(), link(a, "next_if_false")));
        } else {
            branches.push(("next".into(), link(a, "next")));
        }
    } else {
        branches.push(("next".into(), None));
    }
    Kind::Other {
        type_name: type_name.into(),
        detail: detail.into(),
        branches,
    }
}

fn read_delay(data: &Value, at: &str, next: Option<String>) -> Result<Kind> {
    let value = data
        .get("value")
        .and_then(Value::as_i64)
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            anyhow!("`{at}.data.value`: expected a non-negative whole number of delay units")
        })?;
    let unit = data.get("unit").and_then(Value::as_str).unwrap_or("days");
    let per = match unit {
        "days" => 86_400,
        "hours" => 3600,
        "minutes" => 60,
        _ => bail!("`{at}.data.unit`: `{unit}`; expected days, hours or minutes"),
    };
    let seconds = value
        .checked_mul(per)
        .ok_or_else(|| anyhow!("`{at}.data.value`: {value} {unit} is too long"))?;
    let mut calendar = Vec::new();
    if let Some(t) = data.get("delay_until_time").and_then(Value::as_str) {
        calendar.push(format!("until {t}"));
    }
    if let Some(days) = data.get("delay_until_weekdays").and_then(Value::as_array) {
        let days: Vec<&str> = days.iter().filter_map(Value::as_str).collect();
        if !days.is_empty() {
            calendar.push(format!("until a weekday in [{}]", days.join(", ")));
        }
    }
    if let Some(s) = data.get("secondary_value").and_then(Value::as_i64) {
        if s != 0 {
            calendar.push(format!("secondary value {s}"));
        }
    }
    Ok(Kind::Delay {
        seconds,
        calendar: (!calendar.is_empty()).then(|| calendar.join(", ")),
        next,
    })
}

fn read_send(type_name: &str, data: &Value, ab_test: Option<String>, next: Option<String>) -> Kind {
    let channel = match type_name {
        "send-sms" => "sms",
        "send-push-notification" => "push",
        _ => "email",
    };
    let message = data.get("message").unwrap_or(&Value::Null);
    Kind::Send {
        channel: channel.into(),
        name: message
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
        message_id: message.get("id").and_then(id_string),
        status: data
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string),
        ab_test,
        content: ["subject_line", "body"]
            .iter()
            .find_map(|k| message.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_string(),
        next,
    }
}

/// The single condition of a split's filter, when there is exactly one.
fn only_condition(filter: Option<&Value>) -> Option<&Value> {
    let groups = filter?.get("condition_groups")?.as_array()?;
    if groups.len() != 1 {
        return None;
    }
    let conditions = groups[0].get("conditions")?.as_array()?;
    (conditions.len() == 1).then(|| &conditions[0])
}

fn arm_condition(data: &Value) -> Option<String> {
    let c = only_condition(data.get("profile_filter"))?;
    let property = c.get("property")?.as_str()?;
    let is_arm = property == ARM_PROPERTY
        || property == format!("properties['{ARM_PROPERTY}']")
        || property == format!("properties[\"{ARM_PROPERTY}\"]");
    let f = c.get("filter")?;
    (c.get("type")?.as_str()? == "profile-property"
        && is_arm
        && f.get("type")?.as_str()? == "string"
        && f.get("operator")?.as_str()? == "equals")
        .then(|| f.get("value")?.as_str().map(str::to_string))
        .flatten()
}

fn value_condition(data: &Value) -> Option<(Op, f64)> {
    let c = only_condition(data.get("trigger_filter"))?;
    let field = c.get("field")?.as_str()?;
    let f = c.get("filter")?;
    if c.get("type")?.as_str()? != "metric-property"
        || !(field == VALUE_FIELD || field == "value")
        || f.get("type")?.as_str()? != "numeric"
    {
        return None;
    }
    let op = Op::parse(f.get("operator")?.as_str()?)?;
    let v = f.get("value")?.as_f64().filter(|v| v.is_finite())?;
    Some((op, v))
}

fn describe_profile_split(data: &Value) -> String {
    match only_condition(data.get("profile_filter")) {
        Some(c) => format!(
            "a split on the profile ({} {})",
            c.get("type").and_then(Value::as_str).unwrap_or("condition"),
            c.get("property")
                .and_then(Value::as_str)
                .or_else(|| c.get("metric_id").and_then(Value::as_str))
                .unwrap_or("")
        ),
        None => "a split on several profile conditions".into(),
    }
}

fn describe_trigger_split(data: &Value) -> String {
    match only_condition(data.get("trigger_filter")) {
        Some(c) => {
            let f = c.get("filter").unwrap_or(&Value::Null);
            format!(
                "a split on the trigger event's `{}` ({} {})",
                c.get("field").and_then(Value::as_str).unwrap_or("?"),
                str_at(f, &["type"]).unwrap_or("?"),
                str_at(f, &["operator"]).unwrap_or("?"),
            )
        }
        None => "a split on several trigger-event conditions".into(),
    }
}

fn write_action(a: &Action, metric: &str) -> Value {
    let mut o = Map::new();
    o.insert("temporary_id".into(), json!(a.id));
    let (type_name, links, data) = match &a.kind {
        Kind::Delay { seconds, next, .. } => {
            let (unit, value) = if seconds % 86_400 == 0 {
                ("days", seconds / 86_400)
            } else if seconds % 3600 == 0 {
                ("hours", seconds / 3600)
            } else {
                ("minutes", seconds / 60)
            };
            (
                "time-delay",
                json!({"next": next}),
                json!({"unit": unit, "value": value}),
            )
        }
        Kind::Send {
            channel,
            name,
            content,
            next,
            ..
        } => {
            let (t, message) = match channel.as_str() {
                "sms" => ("send-sms", json!({"name": name, "body": content})),
                "push" => (
                    "send-push-notification",
                    json!({"name": name, "title": name, "body": content}),
                ),
                _ => ("send-email", json!({"name": name, "subject_line": content})),
            };
            (
                t,
                json!({"next": next}),
                json!({"status": "draft", "message": message}),
            )
        }
        Kind::ArmSplit { arm, yes, no } => (
            "conditional-split",
            json!({"next_if_true": yes, "next_if_false": no}),
            json!({"profile_filter": {"condition_groups": [{"conditions": [{
                "type": "profile-property",
                "property": format!("properties['{ARM_PROPERTY}']"),
                "filter": {"type": "string", "operator": "equals", "value": arm},
            }]}]}}),
        ),
        Kind::ValueSplit {
            op,
            threshold,
            yes,
            no,
        } => (
            "trigger-split",
            json!({"next_if_true": yes, "next_if_false": no}),
            json!({
                "trigger_type": "metric",
                "trigger_id": metric,
                "trigger_filter": {"condition_groups": [{"conditions": [{
                    "type": "metric-property",
                    "metric_id": metric,
                    "field": VALUE_FIELD,
                    // Always an f64: written with a decimal point (100.0),
                    // the one form the schema's `oneOf: [integer, number]` accepts.
                    "filter": {"type": "numeric", "operator": op.klaviyo(), "value": *threshold},
                }]}]},
            }),
        ),
        Kind::Other { type_name, .. } => (type_name.as_str(), Value::Null, Value::Null),
    };
    o.insert("type".into(), json!(type_name));
    o.insert("links".into(), links);
    o.insert("data".into(), data);
    Value::Object(o)
}

/// Metric id → name from a `GET /api/metrics` response or a `GET
/// /api/events?include=metric` page (any `data`/`included` object of type
/// `metric` with an `attributes.name`).
pub fn metric_names(doc: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in ["data", "included"] {
        let items: Vec<&Value> = match doc.get(key) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => vec![],
        };
        for m in items {
            if m.get("type").and_then(Value::as_str) != Some("metric") {
                continue;
            }
            if let (Some(id), Some(name)) = (
                m.get("id").and_then(id_string),
                str_at(m, &["attributes", "name"]),
            ) {
                out.insert(id, name.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_named_from_a_listing_or_an_events_page() {
        let listing = json!({"data": [
            {"type": "metric", "id": "M1", "attributes": {"name": "Started Checkout"}},
            {"type": "metric", "id": "M2", "attributes": {"name": null}},
        ]});
        let page = json!({
            "data": [{"type": "event", "id": "E1", "attributes": {},
                      "relationships": {"metric": {"data": {"type": "metric", "id": "M3"}}}}],
            "included": [{"type": "metric", "id": "M3", "attributes": {"name": "Added to Cart"}},
                         {"type": "profile", "id": "P1", "attributes": {}}],
        });
        let a = metric_names(&listing);
        assert_eq!(a.len(), 1);
        assert_eq!(a["M1"], "Started Checkout");
        let b = metric_names(&page);
        assert_eq!(b.len(), 1);
        assert_eq!(b["M3"], "Added to Cart");
    }

    #[test]
    fn reentry_reads_every_unit_and_writes_back() {
        for (unit, n, want) in [
            ("day", 14, Reentry::After(14 * 86_400)),
            ("week", 2, Reentry::After(14 * 86_400)),
            ("hour", 36, Reentry::After(36 * 3600)),
            ("alltime", 1, Reentry::Never),
            ("alltime", 0, Reentry::Always),
        ] {
            let got = read_reentry(Some(&json!({"duration": n, "unit": unit}))).unwrap();
            assert_eq!(got, Some(want), "{n} {unit}");
        }
        let e = read_reentry(Some(&json!({"duration": 1, "unit": "month"})))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("reentry_criteria.unit") && e.contains("month"),
            "{e}"
        );
    }
}
