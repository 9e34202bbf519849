//! Klaviyo flows in and out through the real binary: `flow export` then
//! `flow import` gives back the flow file; a Klaviyo-created copy (real ids)
//! maps every message to its step; the body keeps to the parts of Klaviyo's
//! create-flow schema checked here (the full check is `validate.py`, see the
//! README); unmodelled actions and bad profiles are named, never dropped.

mod common;

use cartlift::config::FlowConfig;
use cartlift::klaviyo_flow::{self, ARM_PROPERTY};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn klaviyo_data(name: &str) -> PathBuf {
    root().join("tests/data/klaviyo").join(name)
}

fn flows() -> [PathBuf; 3] {
    [
        sample_flow(),
        root().join("data/sample/explore.toml"),
        test_flow("klaviyo_sms.toml"),
    ]
}

fn export(flow: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["flow", "export", "--klaviyo", s(flow), "--out", s(out)];
    args.extend_from_slice(extra);
    run(&args);
    read_json(out)
}

/// What Klaviyo does on create: real ids for actions, messages and the flow.
fn as_created(body: &Value, flow_id: &str) -> Value {
    let mut doc = body.clone();
    let rename = |t: &Value| {
        json!(format!(
            "A{}",
            t.as_str().unwrap().trim_start_matches("action-")
        ))
    };
    let def = &mut doc["data"]["attributes"]["definition"];
    def["entry_action_id"] = rename(&def["entry_action_id"]);
    for a in def["actions"].as_array_mut().unwrap() {
        let o = a.as_object_mut().unwrap();
        let tmp = o.remove("temporary_id").unwrap();
        o.insert("id".into(), rename(&tmp));
        for (_, v) in o.get_mut("links").unwrap().as_object_mut().unwrap() {
            if !v.is_null() {
                *v = rename(v);
            }
        }
        if let Some(m) = o.get_mut("data").and_then(|d| d.get_mut("message")) {
            m["id"] = json!(format!(
                "M{}",
                tmp.as_str().unwrap().trim_start_matches("action-")
            ));
        }
    }
    doc["data"]["id"] = json!(flow_id);
    doc
}

/// The parts of Klaviyo's create-flow request schema (create_flow.json,
/// FlowCreateQuery) this project writes, checked by hand.
fn check_create_body(body: &Value) {
    assert_eq!(body["data"]["type"], "flow");
    assert!(body["data"]["attributes"]["name"].is_string());
    let def = &body["data"]["attributes"]["definition"];
    let triggers = def["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0]["type"], "metric");
    assert!(triggers[0]["id"].is_string());
    let r = &def["reentry_criteria"];
    assert!(r["duration"].is_u64());
    assert!(["day", "hour", "week", "alltime"].contains(&r["unit"].as_str().unwrap()));
    let actions = def["actions"].as_array().unwrap();
    let ids: BTreeSet<&str> = actions
        .iter()
        .map(|a| a["temporary_id"].as_str().expect("temporary_id on create"))
        .collect();
    assert_eq!(ids.len(), actions.len(), "temporary ids are unique");
    assert!(ids.contains(def["entry_action_id"].as_str().unwrap()));
    for a in actions {
        assert!(a.get("id").is_none(), "`id` is not allowed on create: {a}");
        let links = a["links"].as_object().unwrap();
        for v in links.values() {
            assert!(v.is_null() || ids.contains(v.as_str().unwrap()), "{a}");
        }
        let d = &a["data"];
        match a["type"].as_str().unwrap() {
            "time-delay" => {
                assert!(d["value"].is_u64(), "{a}");
                assert!(["days", "hours", "minutes"].contains(&d["unit"].as_str().unwrap()));
                assert_eq!(links.len(), 1);
            }
            "send-email" | "send-sms" => {
                assert_eq!(d["status"], "draft");
                assert!(
                    d["message"].get("id").is_none(),
                    "message ids are not allowed on create"
                );
                if a["type"] == "send-sms" {
                    assert!(d["message"]["body"].is_string(), "an SMS needs a body");
                }
            }
            "conditional-split" => {
                let c = &d["profile_filter"]["condition_groups"][0]["conditions"][0];
                assert_eq!(c["type"], "profile-property");
                assert_eq!(c["property"], format!("properties['{ARM_PROPERTY}']"));
                assert_eq!(c["filter"]["type"], "string");
                assert_eq!(c["filter"]["operator"], "equals");
                assert!(links.contains_key("next_if_true") && links.contains_key("next_if_false"));
            }
            "trigger-split" => {
                assert_eq!(d["trigger_type"], "metric");
                assert!(d["trigger_id"].is_string());
                let c = &d["trigger_filter"]["condition_groups"][0]["conditions"][0];
                assert_eq!(c["type"], "metric-property");
                assert_eq!(c["field"], "$value");
                assert_eq!(c["filter"]["type"], "numeric");
                // `oneOf: [integer, number]` admits only a non-integer JSON number.
                assert!(c["filter"]["value"].is_f64(), "{a}");
            }
            t => panic!("unexpected action type {t}"),
        }
    }
}

#[test]
fn export_then_import_gives_back_the_flow_file() {
    let dir = tempfile::tempdir().unwrap();
    for flow in flows() {
        let body = dir.path().join("body.json");
        let back = dir.path().join("back.toml");
        check_create_body(&export(&flow, &body, &[]));
        let out = run(&[
            "flow",
            "import",
            "--klaviyo",
            s(&body),
            "--base",
            s(&flow),
            "--out",
            s(&back),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("warning"), "{}: {stderr}", flow.display());
        let want = FlowConfig::load(&flow).unwrap().to_toml().unwrap();
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            want,
            "{}",
            flow.display()
        );
        // Same input, same bytes.
        let again = dir.path().join("again.json");
        export(&flow, &again, &[]);
        assert_eq!(
            std::fs::read(&body).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }
}

#[test]
fn a_created_flow_maps_every_message_to_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let flow = test_flow("klaviyo_sms.toml");
    let body = export(
        &flow,
        &dir.path().join("body.json"),
        &["--trigger-metric-id", "RtYu12"],
    );
    let created = dir.path().join("created.json");
    std::fs::write(&created, as_created(&body, "NeWf1").to_string()).unwrap();
    let back = dir.path().join("back.toml");
    run(&[
        "flow",
        "import",
        "--klaviyo",
        s(&created),
        "--base",
        s(&flow),
        "--metrics",
        s(&klaviyo_data("metrics.json")),
        "--out",
        s(&back),
    ]);
    let got = FlowConfig::load(&back).unwrap();
    let want = FlowConfig::load(&flow).unwrap();
    let link = got.klaviyo.clone().unwrap();
    assert_eq!(link.flow_id.as_deref(), Some("NeWf1"));
    assert_eq!(link.trigger_metric_id.as_deref(), Some("RtYu12"));
    // Every send of the created flow is a step; without the ids the file is the input.
    let sends: Vec<String> = body["data"]["attributes"]["definition"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"].as_str().unwrap().starts_with("send-"))
        .map(|a| {
            format!(
                "M{}",
                a["temporary_id"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("action-")
            )
        })
        .collect();
    let map = klaviyo_flow::message_steps(&got);
    assert_eq!(map.len(), sends.len());
    for m in &sends {
        let step = klaviyo_flow::step_of_message(&got, Some("NeWf1"), m).unwrap();
        let arm = want.arm(&step.arm).unwrap();
        assert!(arm
            .steps
            .iter()
            .any(|s| s.step == step.step && s.channel == step.channel));
    }
    assert!(klaviyo_flow::step_of_message(&got, Some("OtherFlow"), &sends[0]).is_none());
    let mut stripped = got.clone();
    stripped.klaviyo = None;
    for arm in &mut stripped.arms {
        for s in &mut arm.steps {
            s.klaviyo_message_ids.clear();
        }
    }
    assert_eq!(stripped, want);
    // And back out: the trigger id travels, message ids become content references.
    let again = export(&back, &dir.path().join("again.json"), &[]);
    check_create_body(&again);
    let text = again.to_string();
    assert!(text.contains("\"id\":\"RtYu12\""));
    assert!(
        text.contains("copy the content of Klaviyo message M"),
        "{text}"
    );
}

#[test]
fn a_klaviyo_flow_without_holdout_imports_with_one_added() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flow.toml");
    let o = run(&[
        "flow",
        "import",
        "--klaviyo",
        s(&klaviyo_data("abandoned_checkout_flow.json")),
        "--metrics",
        s(&klaviyo_data("metrics.json")),
        "--out",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no holdout") && stderr.contains("added arm `holdout`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("assumed the abandoned-checkout trigger"),
        "{stderr}"
    );
    let c = FlowConfig::load(&out).unwrap();
    assert_eq!(c.flow.name, "Abandoned Checkout");
    assert_eq!(c.flow.reentry_cooldown.to_string(), "30d");
    assert_eq!(c.holdout().weight, 0.1);
    let steps = &c.arm("flow").unwrap().steps;
    let shape: Vec<(u32, String, &str, Option<&str>)> = steps
        .iter()
        .map(|s| {
            (
                s.step,
                s.delay.to_string(),
                s.channel.as_str(),
                s.message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, "4h".into(), "email", Some("Reminder 1")),
            (2, "1d4h".into(), "sms", Some("Nudge")),
            (3, "3d4h".into(), "email", Some("Last chance")),
        ]
    );
    let inc = steps[1].incentive.as_ref().unwrap();
    assert_eq!(
        (inc.value, inc.min_cart_value, inc.max_cart_value),
        (10.0, Some(100.0), None)
    );
    assert_eq!(inc.code.as_deref(), Some("SAVE10"));
    assert_eq!(steps[2].klaviyo_message_ids, vec!["QmA2", "QmA3"]);
    let k = c.klaviyo.as_ref().unwrap();
    assert_eq!(k.flow_id.as_deref(), Some("XyZ9aB"));
    let step = klaviyo_flow::step_of_message(&c, Some("XyZ9aB"), "QmS2").unwrap();
    assert_eq!((step.arm.as_str(), step.step), ("flow", 2));

    // Without a way to name the trigger metric, the assumption is stated;
    // --trigger overrides it; a metric that is no cart trigger is an error.
    let o = run(&[
        "flow",
        "import",
        "--klaviyo",
        s(&klaviyo_data("abandoned_checkout_flow.json")),
        "--out",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("assumed the abandoned-checkout trigger `checkout_started`"),
        "{stderr}"
    );
    run(&[
        "flow",
        "import",
        "--klaviyo",
        s(&klaviyo_data("abandoned_checkout_flow.json")),
        "--trigger",
        "cart_updated",
        "--out",
        s(&out),
    ]);
    assert_eq!(
        FlowConfig::load(&out).unwrap().flow.trigger,
        cartlift::config::Trigger::CartUpdated
    );
    let metrics = dir.path().join("metrics.json");
    let listing = std::fs::read_to_string(klaviyo_data("metrics.json"))
        .unwrap()
        .replace("\"Started Checkout\"", "\"Viewed Product\"");
    std::fs::write(&metrics, listing).unwrap();
    let o = bin()
        .args([
            "flow",
            "import",
            "--klaviyo",
            s(&klaviyo_data("abandoned_checkout_flow.json")),
            "--metrics",
            s(&metrics),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("abandoned_checkout_flow.json") && stderr.contains("`Viewed Product`"),
        "{stderr}"
    );
}

#[test]
fn unmodelled_actions_are_named_in_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flow.toml");
    let o = run(&[
        "flow",
        "import",
        "--klaviyo",
        s(&klaviyo_data("unmodelled_actions_flow.json")),
        "--out",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    for want in [
        "action `200` (conditional-split)",
        "properties['VIP']",
        "1 on `no`",
        "action `201` (time-delay): waits until 09:00:00",
        "action `202` (send-webhook)",
        "action `204` (update-profile)",
        "action `206` (send-email): disabled",
    ] {
        assert!(stderr.contains(want), "missing `{want}` in:\n{stderr}");
    }
    let c = FlowConfig::load(&out).unwrap();
    assert_eq!(c.arm("flow").unwrap().steps.len(), 1);
}

#[test]
fn malformed_definitions_are_errors_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (json!({"data": []}), "expected one flow"),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x"}}}),
            "additional-fields[flow]=definition",
        ),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x", "definition": {
                "triggers": [{"type": "list", "id": "L1"}], "actions": [], "entry_action_id": null}}}}),
            "triggers[0].type",
        ),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x", "definition": {
                "triggers": [{"type": "metric", "id": "M"}], "entry_action_id": "1",
                "actions": [{"id": "1", "type": "time-delay", "links": {"next": "9"}, "data": {"unit": "hours", "value": 1}}]}}}}),
            "links to `9`",
        ),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x", "definition": {
                "triggers": [{"type": "metric", "id": "M"}], "entry_action_id": "1",
                "actions": [{"id": "1", "type": "time-delay", "links": {"next": "1"}, "data": {"unit": "hours", "value": 1}}]}}}}),
            "loop",
        ),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x", "definition": {
                "triggers": [{"type": "metric", "id": "M"}], "entry_action_id": "1",
                "actions": [{"id": "1", "type": "time-delay", "links": {"next": null}, "data": {"unit": "weeks", "value": 1}}]}}}}),
            "actions[0].data.unit",
        ),
        (
            json!({"data": {"type": "flow", "attributes": {"name": "x", "definition": {
                "triggers": [{"type": "metric", "id": "M"}], "entry_action_id": "1",
                "actions": [
                    {"id": "1", "type": "trigger-split", "links": {"next_if_true": "2", "next_if_false": "3"}, "data": null},
                    {"id": "2", "type": "time-delay", "links": {"next": "3"}, "data": {"unit": "hours", "value": 1}},
                    {"id": "3", "type": "time-delay", "links": {"next": null}, "data": {"unit": "hours", "value": 1}}]}}}}),
            "expected a tree of actions",
        ),
    ];
    for (i, (doc, want)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&p, doc.to_string()).unwrap();
        let o = bin()
            .args([
                "flow",
                "import",
                "--klaviyo",
                s(&p),
                "--out",
                s(&dir.path().join("o.toml")),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("bad{i}.json")) && stderr.contains(want),
            "{want}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn assign_exports_klaviyo_profile_properties() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles.csv");
    std::fs::write(
        &profiles,
        "Email,First Name,Klaviyo ID\nalice@example.com,Alice,01A\n,Nobody,01B\nBob@Example.com ,Bob,01C\n",
    )
    .unwrap();
    let arms = dir.path().join("arms.csv");
    let o = run(&[
        "assign",
        "--customers",
        s(&profiles),
        "--flow",
        s(&sample_flow()),
        "--export",
        "klaviyo",
        "--out",
        s(&arms),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("no e-mail address"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&arms).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Email,cartlift_arm"));
    // The same arms as `assign --customer-id` gives for each address.
    for (line, id) in lines.zip(["alice@example.com", "bob@example.com"]) {
        let one = run(&["assign", "--flow", s(&sample_flow()), "--customer-id", id]);
        let arm = String::from_utf8_lossy(&one.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .rsplit(',')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(line, format!("{id},{arm}"));
    }
    // Hashing another column, as the events' customer ids may be.
    run(&[
        "assign",
        "--customers",
        s(&profiles),
        "--flow",
        s(&sample_flow()),
        "--export",
        "klaviyo",
        "--key-column",
        "Klaviyo ID",
        "--out",
        s(&arms),
    ]);
    let a = cartlift::assign::Assigner::new(&FlowConfig::load(&sample_flow()).unwrap());
    let want = a.arm_name(a.assign("01A").1);
    assert!(std::fs::read_to_string(&arms)
        .unwrap()
        .contains(&format!("alice@example.com,{want}")));
}

#[test]
fn report_writes_the_recommended_flow_for_klaviyo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    run(&[
        "report",
        s(&root().join("data/sample/events.csv")),
        "--flow",
        s(&sample_flow()),
        "--out",
        s(&out),
    ]);
    let written = std::fs::read(out.join("recommended_flow.klaviyo.json")).unwrap();
    let again = dir.path().join("again.json");
    let body = export(&out.join("recommended_flow.toml"), &again, &[]);
    assert_eq!(written, std::fs::read(&again).unwrap());
    check_create_body(&body);
}
