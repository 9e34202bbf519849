//! Learned targeting end to end, against the simulator's truth: on a
//! population whose best treatment depends on the customer
//! (`tests/data/flows/targeting.toml`: a discount converts first-time
//! buyers and only subsidizes repeat ones), `policy --covariates all
//! --write-flow` learns a tree from the carts of a simulated experiment and
//! writes it back as flow branches; `simulate --evaluate` values that flow
//! under the true model beside the oracle (the best incentive threshold per
//! effect group) on the same simulated shoppers.
//!
//! The ignored tests repeat it across 20 seeds at 400,000 carts
//! (`TARGETING_CARTS` overrides the size; 2026-12-01, the rule at α/4 per
//! way to a change: 18 recommend the tree, the learned flow earns
//! 93.5–99.8% of the oracle, 98.8% on average), and on the same
//! population without heterogeneity (no effect of the discount at all),
//! where the evidence rule should rarely change the flow (at 400,000
//! carts: a tree once and the inert discount for everyone once in 40):
//!
//! ```sh
//! cargo test --release --test policy_targeting -- --ignored --nocapture
//! ```

mod common;
use cartlift::branch::Covariates;
use cartlift::config::FlowConfig;
use common::*;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CARTS: &str = "120000";
/// Carts per experiment in the runs by hand: larger, so the evidence rule
/// can tell the tree from the best single arm in most experiments
/// (`TARGETING_CARTS` overrides it, e.g. 200000 for the earlier figures).
fn carts_by_hand() -> String {
    std::env::var("TARGETING_CARTS").unwrap_or_else(|_| "400000".into())
}
/// Carts over which a flow is valued under the true model.
const EVALUATE: &str = "200000";
const EVALUATE_SEED: &str = "99";

struct Learned {
    recommend: String,
    next: PathBuf,
    carts: PathBuf,
}

/// Simulates `flow` with `seed`, reconstructs the carts, learns the policy
/// on every covariate and writes the next flow.
fn learn(dir: &Path, flow: &Path, seed: u64) -> Learned {
    learn_with(dir, flow, seed, CARTS)
}

fn learn_with(dir: &Path, flow: &Path, seed: u64, carts_n: &str) -> Learned {
    let events = dir.join(format!("events_{seed}.parquet"));
    let carts = dir.join(format!("carts_{seed}.parquet"));
    let json = dir.join(format!("policy_{seed}.json"));
    let next = dir.join(format!("next_{seed}.toml"));
    let seed = seed.to_string();
    run(&[
        "simulate",
        "--flow",
        s(flow),
        "--carts",
        carts_n,
        "--seed",
        &seed,
        "--out",
        s(&events),
    ]);
    run(&["paths", s(&events), "--flow", s(flow), "--out", s(&carts)]);
    run(&[
        "policy",
        s(&carts),
        "--flow",
        s(flow),
        "--covariates",
        "all",
        "--json",
        s(&json),
        "--write-flow",
        s(&next),
    ]);
    let report = read_json(&json);
    Learned {
        recommend: report["decision"]["recommend"]
            .as_str()
            .unwrap()
            .to_string(),
        next,
        carts,
    }
}

/// `simulate --evaluate`: each arm's true net contribution per entry, and
/// the oracle's (when the flow has an incentive template).
fn evaluate(flow: &Path) -> (BTreeMap<String, f64>, Option<f64>) {
    let out = run(&[
        "simulate",
        "--flow",
        s(flow),
        "--evaluate",
        EVALUATE,
        "--seed",
        EVALUATE_SEED,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let value = |line: &str| {
        line.rsplit(": ")
            .next()
            .unwrap()
            .trim()
            .parse::<f64>()
            .unwrap()
    };
    let mut arms = BTreeMap::new();
    let mut oracle = None;
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("arm `") {
            let name = rest.split('`').next().unwrap().to_string();
            arms.insert(name, value(line));
        } else if line.starts_with("oracle (") {
            oracle = Some(value(line));
        }
    }
    (arms, oracle)
}

/// The next flow's deployed arm (the one beside the holdout) valued under
/// the truth, as a share of the oracle's value on the same shoppers.
fn share_of_oracle(flow: &Path, next: &Path) -> (f64, f64, f64) {
    let (_, oracle) = evaluate(flow);
    let oracle = oracle.expect("the experiment has an incentive template");
    let config = FlowConfig::load(next).unwrap();
    let deployed = &config.arms.iter().find(|a| !a.holdout).unwrap().name;
    let (arms, _) = evaluate(next);
    let value = arms[deployed];
    (value, oracle, value / oracle)
}

#[test]
fn a_learned_tree_is_written_back_as_branches_and_earns_near_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let flow = test_flow("targeting.toml");
    let learned = learn(dir.path(), &flow, 1);
    assert_eq!(learned.recommend, "policy_tree");
    let next = FlowConfig::load(&learned.next).unwrap();
    let targeted = next.arm("targeted").expect("the tree's arm");
    assert!(targeted.branches.len() >= 2, "{targeted:?}");
    assert_eq!(next.holdout().weight, 0.1, "the holdout keeps its weight");
    let (value, oracle, share) = share_of_oracle(&flow, &learned.next);
    eprintln!(
        "learned tree {value:.4} per entry, oracle {oracle:.4}: {:.1}%",
        share * 100.0
    );
    assert!(share >= 0.97, "{value} vs oracle {oracle}");

    // The next flow runs: the simulator sends each entry its branch's steps,
    // and the discount's coupon appears exactly on entries whose branch (read
    // from the carts table's covariates) offers it.
    let events = dir.path().join("next_events.parquet");
    let carts = dir.path().join("next_carts.parquet");
    run(&[
        "simulate",
        "--flow",
        s(&learned.next),
        "--carts",
        "6000",
        "--seed",
        "3",
        "--out",
        s(&events),
    ]);
    run(&[
        "paths",
        s(&events),
        "--flow",
        s(&learned.next),
        "--out",
        s(&carts),
    ]);
    let df = read_parquet(&carts);
    let col = |n: &str| df.column(n).unwrap().as_materialized_series().clone();
    let arm = col("arm");
    let arm = arm.str().unwrap();
    let coupon = col("coupon");
    let coupon = coupon.str().unwrap();
    let offered = col("incentive_offered");
    let offered = offered.bool().unwrap();
    let f64s = |n: &str| {
        col(n)
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .clone()
    };
    let (value, spend, orders, days, discounted, tenure) = (
        f64s("cart_value"),
        f64s("customer_prior_spend"),
        f64s("prior_orders"),
        f64s("days_since_last_order"),
        f64s("prior_discounted_orders"),
        f64s("days_since_first_order"),
    );
    let status = col("customer_status");
    let status = status.str().unwrap();
    let capture = col("capture_channel");
    let capture = capture.str().unwrap();
    let at = col("abandoned_at").cast(&DataType::Int64).unwrap();
    let at = at.i64().unwrap();
    let (mut with_coupon, mut targeted_entries) = (0, 0);
    for i in 0..df.height() {
        if arm.get(i) != Some("targeted") {
            continue;
        }
        targeted_entries += 1;
        let (hour, weekday) = Covariates::hour_and_weekday(at.get(i).unwrap());
        let x = Covariates {
            cart_value: value.get(i).unwrap_or(f64::NAN),
            customer_status: status.get(i).unwrap_or("unknown"),
            customer_prior_spend: spend.get(i).unwrap(),
            abandoned_hour: hour,
            abandoned_weekday: weekday,
            prior_orders: orders.get(i).unwrap() as u32,
            days_since_last_order: days.get(i),
            prior_discounted_orders: discounted.get(i).unwrap() as u32,
            days_since_first_order: tenure.get(i),
            capture_channel: capture.get(i).unwrap_or("unknown"),
        };
        let offers = targeted.steps_for(&x).iter().any(|s| s.incentive.is_some());
        if coupon.get(i).is_some() {
            with_coupon += 1;
            assert!(
                offers,
                "row {i}: a coupon on an entry whose branch offers none"
            );
        }
        if offered.get(i) == Some(true) {
            assert!(
                offers,
                "row {i}: incentive_offered on an entry whose branch offers none"
            );
        }
    }
    assert!(
        targeted_entries > 3000 && with_coupon > 0,
        "{targeted_entries} {with_coupon}"
    );
}

#[test]
#[ignore = "20 experiments; run by hand (see the module docs)"]
fn across_seeds_the_learned_tree_reaches_97_percent_of_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let flow = test_flow("targeting.toml");
    let mut shares = Vec::new();
    let mut trees = 0;
    for seed in 1..=20u64 {
        let learned = learn_with(dir.path(), &flow, seed, &carts_by_hand());
        trees += usize::from(learned.recommend == "policy_tree");
        let (value, oracle, share) = share_of_oracle(&flow, &learned.next);
        eprintln!(
            "seed {seed}: {} → {value:.4} per entry, oracle {oracle:.4}, {:.2}%",
            learned.recommend,
            share * 100.0
        );
        shares.push(share);
        let _ = std::fs::remove_file(&learned.carts);
    }
    let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    eprintln!(
        "{trees} of {} seeds recommend the tree; share of the oracle: min {:.2}%, mean {:.2}%",
        shares.len(),
        min * 100.0,
        mean * 100.0
    );
    // On average across experiments: where the evidence rule cannot tell
    // the tree from the best single arm at this size, it deploys that arm
    // (about 93% of the oracle here), by design.
    assert!(mean >= 0.97, "mean share {mean} (min {min})");
    assert!(trees * 4 >= shares.len() * 3, "{trees} trees");
}

#[test]
#[ignore = "40 experiments; run by hand (see the module docs)"]
fn without_heterogeneity_the_rule_rarely_changes_the_flow() {
    let dir = tempfile::tempdir().unwrap();
    // The same flow and population, but the discount neither moves nor
    // costs anyone: nobody is price sensitive, nobody redeems it.
    let text = std::fs::read_to_string(test_flow("targeting.toml")).unwrap();
    let cut = text.find("[[simulation.effects]]").unwrap();
    let null = text[..cut]
        .replace("price_sensitive_share = 0.3", "price_sensitive_share = 0.0")
        .replace(
            "redemption_insensitive = 0.9",
            "redemption_insensitive = 0.0",
        );
    let flow = dir.path().join("null.toml");
    std::fs::write(&flow, null).unwrap();
    let n = 40u64;
    let (mut trees, mut changes) = (0, 0);
    for seed in 1..=n {
        let learned = learn_with(dir.path(), &flow, 1000 + seed, &carts_by_hand());
        eprintln!("seed {}: {}", 1000 + seed, learned.recommend);
        trees += usize::from(learned.recommend == "policy_tree");
        changes += usize::from(!learned.recommend.starts_with("keep:"));
        let _ = std::fs::remove_file(&learned.carts);
    }
    eprintln!("{trees} of {n} recommend a tree, {changes} any change");
    // The rule changes a flow without heterogeneity in at most 2.5% of
    // experiments by design; 5% leaves room for sampling error.
    assert!(changes as f64 <= 0.05 * n as f64, "{changes} of {n}");
}

/// An experiment whose arm already has branches: whatever the rule
/// recommends, the written flow sends that arm as it ran (its branches
/// kept, inside each tree leaf), with or without exploration, and reads
/// back; `--current` cannot be the holdout.
#[test]
fn a_branched_experiment_arm_is_written_back_as_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(test_flow("targeting.toml")).unwrap();
    let branch = r#"
[[arms.branches]]
name = "no_discount_for_repeat_buyers"
when = { prior_orders = { above = 0 } }
steps = [
  { step = 1, delay = "1h", channel = "email", message = "reminder" },
  { step = 2, delay = "24h", channel = "email", message = "offer" },
  { step = 3, delay = "72h", channel = "email", message = "last_call" },
]
"#;
    let at = text.find("\n[margin]").unwrap();
    let flow = dir.path().join("branched.toml");
    std::fs::write(&flow, format!("{}{branch}{}", &text[..at], &text[at..])).unwrap();
    let events = dir.path().join("ev.parquet");
    let carts = dir.path().join("carts.parquet");
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "8000",
        "--seed",
        "5",
        "--out",
        s(&events),
    ]);
    run(&["paths", s(&events), "--flow", s(&flow), "--out", s(&carts)]);
    for (explore, current) in [("0", "discount"), ("0.1", "discount"), ("0.1", "reminders")] {
        let next = dir.path().join(format!("next_{explore}_{current}.toml"));
        let out = run(&[
            "policy",
            s(&carts),
            "--flow",
            s(&flow),
            "--covariates",
            "all",
            "--current",
            current,
            "--explore",
            explore,
            "--write-flow",
            s(&next),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let config = FlowConfig::load(&next).unwrap();
        let names: Vec<&str> = config.arms.iter().map(|a| a.name.as_str()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        // Wherever the discount arm's branch went, it went whole: every
        // branch that sends the discount's steps outside its own condition
        // is one that excludes repeat buyers.
        let deployed = &config.arms[1];
        let kept = deployed.name == "discount" && deployed.branches.len() == 1
            || deployed
                .branches
                .iter()
                .any(|b| b.name.as_deref() == Some("discount: no_discount_for_repeat_buyers"));
        assert!(
            kept || deployed.name == "reminders",
            "{stdout}\n{deployed:?}"
        );
    }
    // A share that leaves an arm below one assignment bucket is refused
    // with its reason, not written as a flow nobody reaches.
    let out = bin()
        .args([
            "policy",
            s(&carts),
            "--flow",
            s(&flow),
            "--covariates",
            "all",
            "--explore",
            "0.8999999999",
            "--write-flow",
            s(&dir.path().join("x.toml")),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("assignment bucket") && !err.contains("a bug"),
        "{err}"
    );
    let out = bin()
        .args([
            "policy",
            s(&carts),
            "--flow",
            s(&flow),
            "--covariates",
            "all",
            "--current",
            "holdout",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--current holdout"));
}

/// A carts table's history columns with values no store could know (not a
/// number, infinite, negative) stop the learned policy with the customer
/// named, rather than reading as "no earlier order"; an empty day count
/// still reads as none.
#[test]
fn impossible_history_values_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let flow = test_flow("targeting.toml");
    let events = dir.path().join("events.parquet");
    let carts = dir.path().join("carts.parquet");
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "3000",
        "--seed",
        "4",
        "--out",
        s(&events),
    ]);
    run(&["paths", s(&events), "--flow", s(&flow), "--out", s(&carts)]);
    let df = read_parquet(&carts);
    let first = df
        .column("customer_id")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    for (column, bad, expected) in [
        ("days_since_first_order", f64::NAN, "NaN"),
        ("days_since_last_order", f64::NEG_INFINITY, "-inf"),
        ("prior_discounted_orders", -3.0, "-3"),
    ] {
        let mut edited = df.clone();
        let values: Vec<Option<f64>> = edited
            .column(column)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 0 { Some(bad) } else { v })
            .collect();
        edited
            .with_column(Column::new(column.into(), values))
            .unwrap();
        let path = dir.path().join(format!("edited_{column}.parquet"));
        let mut f = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(&mut f).finish(&mut edited).unwrap();
        let out = bin()
            .args([
                "policy",
                s(&path),
                "--flow",
                s(&flow),
                "--covariates",
                "all",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{column}: {err}");
        assert!(
            err.contains(column) && err.contains(expected) && err.contains(&first),
            "{column}: {err}"
        );
    }
}
