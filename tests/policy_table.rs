//! `cartlift policy --units`: a learned policy tree on a recipients table.
//! A table with a planted policy (the offer pays only above an age cut) is
//! recovered, valued honestly and written the same way twice; a train/test
//! split reports on the test part; bad input gets a message naming the
//! line; and on the Hillstrom e-mail test (when present) the ranking beats
//! random targeting on held-out customers.

mod common;
use common::*;
use rand::{Rng, SeedableRng};
use std::fmt::Write;
use std::path::Path;

/// A randomized offer test: `offer` raises the purchase rate by 10 points
/// for age > 0.5 and lowers it by 4 points below; `channel` and `noise` do
/// nothing. Every third row is `test`.
fn planted_table(path: &Path, n: usize, seed: u64) {
    table_with_rates(path, n, seed, planted_rate)
}

/// A randomized offer test whose purchase rate under each arm is `rate`.
fn table_with_rates(path: &Path, n: usize, seed: u64, rate: fn(bool, f64) -> f64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from("arm,age,channel,noise,bought,part\n");
    for i in 0..n {
        let offer = rng.random::<f64>() < 0.5;
        let age: f64 = rng.random();
        let channel = ["web", "phone", "store"][rng.random_range(0..3)];
        let noise: f64 = rng.random();
        let p = rate(offer, age);
        let bought = u8::from(rng.random::<f64>() < p);
        let part = if i % 3 == 2 { "test" } else { "train" };
        let arm = if offer { "offer" } else { "control" };
        writeln!(text, "{arm},{age:.4},{channel},{noise:.4},{bought},{part}").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn policy_args<'a>(table: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "policy",
        "--units",
        table,
        "--arm-col",
        "arm",
        "--control",
        "control",
        "--metric",
        "bought",
        "--covariates",
        "age,channel,noise",
    ];
    args.extend_from_slice(extra);
    args
}

fn find<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

#[test]
fn a_planted_policy_is_recovered_and_valued_out_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("units.csv");
    planted_table(&table, 8000, 5);
    let (json, scores) = (dir.path().join("p.json"), dir.path().join("s.csv"));
    let out = run(&policy_args(
        s(&table),
        &["--depth", "1", "--json", s(&json), "--scores", s(&scores)],
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let j = read_json(&json);
    // The tree: one cut on age near 0.5, control below, offer above.
    let tree = &j["tree"]["split"];
    assert_eq!(tree["column"], "age", "{}", j["tree"]);
    let cut = tree["threshold"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&cut), "cut {cut}");
    assert_eq!(tree["left"]["leaf"]["arm"], "control");
    assert_eq!(tree["right"]["leaf"]["arm"], "offer");
    // Honest value on held-out folds: the true gain over offering everyone
    // is 0.5 × 4 points = 2 points per unit; over nobody, 0.5 × 10 = 5.
    assert_eq!(j["reported_on"], "held-out folds");
    let over_all = find(&j["gains"], "over_best_single_arm");
    let lower = over_all["ci"]["lower"].as_f64().unwrap();
    let upper = over_all["ci"]["upper"].as_f64().unwrap();
    assert!(lower > 0.0 && lower < 0.02 && upper > 0.02, "{over_all}");
    let over_control = find(&j["gains"], "over_control:control");
    assert!(over_control["ci"]["lower"].as_f64().unwrap() > 0.0);
    assert_eq!(j["decision"]["recommend"], "policy_tree");
    // Ranking diagnostics on held-out folds, and the scores file.
    let rank = &j["rankings"][0];
    assert!(rank["qini_auc"].as_f64().unwrap() > 0.1, "{rank}");
    assert_eq!(rank["deciles"].as_array().unwrap().len(), 10);
    let csv = std::fs::read_to_string(&scores).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("row,uplift_offer,policy_arm"));
    assert_eq!(lines.count(), 8000);
    // Same inputs and seed: the same bytes.
    let (json2, scores2) = (dir.path().join("p2.json"), dir.path().join("s2.csv"));
    run(&policy_args(
        s(&table),
        &["--depth", "1", "--json", s(&json2), "--scores", s(&scores2)],
    ));
    assert_eq!(
        std::fs::read(&json).unwrap(),
        std::fs::read(&json2).unwrap()
    );
    assert_eq!(
        std::fs::read(&scores).unwrap(),
        std::fs::read(&scores2).unwrap()
    );
}

#[test]
fn a_split_reports_on_the_test_part_and_costs_change_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("units.csv");
    planted_table(&table, 6000, 9);
    let json = dir.path().join("p.json");
    let scores = dir.path().join("s.csv");
    run(&policy_args(
        s(&table),
        &[
            "--split-col",
            "part",
            "--json",
            s(&json),
            "--scores",
            s(&scores),
        ],
    ));
    let j = read_json(&json);
    assert_eq!(j["reported_on"], "test part");
    assert_eq!(j["report_units"], 2000);
    assert_eq!(j["train_units"], 4000);
    // Score rows are the test rows' positions in the input.
    let csv = std::fs::read_to_string(&scores).unwrap();
    let rows: Vec<usize> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.len(), 2000);
    assert!(rows.iter().all(|r| r % 3 == 2));
    // An offer costing more than its best uplift is never worth it.
    let costly = dir.path().join("c.json");
    run(&policy_args(
        s(&table),
        &[
            "--split-col",
            "part",
            "--cost-per-treated",
            "0.5",
            "--json",
            s(&costly),
        ],
    ));
    let c = read_json(&costly);
    assert_eq!(c["tree"]["leaf"]["arm"], "control", "{}", c["tree"]);
    assert_eq!(c["decision"]["recommend"], "keep:control");
    // The design's weights replace the arms' shares as probabilities.
    let designed = dir.path().join("d.json");
    run(&policy_args(
        s(&table),
        &[
            "--split-col",
            "part",
            "--weights",
            "control=1,offer=1",
            "--json",
            s(&designed),
        ],
    ));
    let d = read_json(&designed);
    assert_eq!(d["arms"][0]["propensity"], 0.5);
    assert_eq!(d["arms"][1]["propensity"], 0.5);
    let value = |j: &serde_json::Value| {
        find(&j["values"], "treat_all:offer")["estimate"]
            .as_f64()
            .unwrap()
    };
    assert!(
        (value(&d) - value(&j)).abs() < 0.01,
        "{} vs {}",
        value(&d),
        value(&j)
    );
    assert_ne!(value(&d), value(&j));
}

#[test]
fn bad_input_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("units.csv");
    std::fs::write(
        &table,
        "arm,age,bought,part\ncontrol,1,0,train\noffer,2,1,holdout\n",
    )
    .unwrap();
    let out = bin()
        .args(policy_args(s(&table), &["--split-col", "part"]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("channel"), "{err}");
    let out = bin()
        .args([
            "policy",
            "--units",
            s(&table),
            "--arm-col",
            "arm",
            "--control",
            "control",
            "--metric",
            "bought",
            "--covariates",
            "age",
            "--split-col",
            "part",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("train or test"),
        "{err}"
    );
    let out = bin()
        .args([
            "policy",
            "--units",
            s(&table),
            "--arm-col",
            "arm",
            "--control",
            "control",
            "--metric",
            "bought",
            "--covariates",
            "age",
            "--weights",
            "control=1,other=1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`offer`") && err.contains("no weight"),
        "{err}"
    );
}

/// The Hillstrom e-mail test, Womens E-Mail against No E-Mail, target
/// visit: learned on 70% of each arm (every row whose position mod 10 is
/// below 7), ranked on the rest.
#[test]
fn hillstrom_ranking_beats_random_targeting() {
    let data = root().join("../shared/data/hillstrom/hillstrom.csv");
    if !data.exists() {
        eprintln!(
            "skipping: {} is absent (real data is read in place, never copied)",
            data.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("womens.csv");
    let raw = std::fs::read_to_string(&data).unwrap();
    let mut lines = raw.lines();
    let mut text = format!("{},part\n", lines.next().unwrap());
    for (i, line) in lines
        .filter(|l| l.contains(",Womens E-Mail,") || l.contains(",No E-Mail,"))
        .enumerate()
    {
        let part = if i % 10 < 7 { "train" } else { "test" };
        writeln!(text, "{line},{part}").unwrap();
    }
    std::fs::write(&table, text).unwrap();
    let json = dir.path().join("h.json");
    let out = run(&[
        "policy",
        "--units",
        s(&table),
        "--arm-col",
        "segment",
        "--control",
        "No E-Mail",
        "--metric",
        "visit",
        "--covariates",
        "recency,history,mens,womens,newbie,zip_code,channel",
        "--split-col",
        "part",
        "--json",
        s(&json),
    ]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let j = read_json(&json);
    let rank = &j["rankings"][0];
    let top30 = rank["top_shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["share"] == 0.3)
        .unwrap();
    assert!(
        top30["gain_over_random"]["estimate"].as_f64().unwrap() > 0.0,
        "{top30}"
    );
    assert!(rank["qini_auc"].as_f64().unwrap() > 0.0, "{rank}");
}

/// The true purchase rate of a unit of the planted table under an arm.
fn planted_rate(offer: bool, age: f64) -> f64 {
    0.10 + if offer {
        if age > 0.5 {
            0.10
        } else {
            -0.04
        }
    } else {
        0.0
    }
}

/// The arm a learned tree gives a unit of the planted table.
fn tree_arm(t: &serde_json::Value, age: f64, channel: &str, noise: f64) -> String {
    if let Some(arm) = t["leaf"]["arm"].as_str() {
        return arm.to_string();
    }
    let split = &t["split"];
    let left = match split["category"].as_str() {
        Some(value) => channel != value,
        None => {
            let x = match split["column"].as_str().unwrap() {
                "age" => age,
                "noise" => noise,
                other => panic!("numeric split on {other}"),
            };
            x <= split["threshold"].as_f64().unwrap()
        }
    };
    tree_arm(
        &split[if left { "left" } else { "right" }],
        age,
        channel,
        noise,
    )
}

/// Covariates of fresh units from the planted table's population (age,
/// channel, noise), for true values under the planted rates.
fn fresh_draws(seed: u64) -> Vec<(f64, &'static str, f64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..200_000)
        .map(|_| {
            (
                rng.random::<f64>(),
                ["web", "phone", "store"][rng.random_range(0..3)],
                rng.random::<f64>(),
            )
        })
        .collect()
}

/// The learned policy's options on the planted table (T-learner ranking,
/// 5 folds, depth 2), reported on `split` when given, else on held-out folds.
fn planted_options(split: Option<&str>) -> cartlift::uplift::TableOptions {
    cartlift::uplift::TableOptions {
        arm_col: "arm".into(),
        control: "control".into(),
        metric: "bought".into(),
        cost_per_treated: 0.0,
        value_per_unit: 1.0,
        covariates: vec!["age".into(), "channel".into(), "noise".into()],
        split_col: split.map(Into::into),
        folds: 5,
        depth: 2,
        grid: 32,
        min_leaf_share: 0.05,
        current: None,
        alpha: 0.05,
        seed: 1,
        ranker: cartlift::uplift::Ranker::TLearner,
        // The default (stumps for this 0/1 outcome); `PLANTED_MODEL_DEPTH`
        // sets another (depth 3 gave the same coverage: 188/200).
        model_depth: std::env::var("PLANTED_MODEL_DEPTH")
            .ok()
            .map(|d| d.parse().expect("PLANTED_MODEL_DEPTH: a depth 1-6")),
        weights: None,
    }
}

/// Coverage of the test part's 95% interval for the learned tree's gain
/// over the best single arm: in each of 200 experiments (seeds 1000–1199,
/// 6,000 units, a third held out) the tree is learned on the train part,
/// its true gain is computed under the planted rates on 200,000 fresh
/// covariate draws, and the interval on the test part either covers it or
/// not. Slow in a debug build (minutes): run with
/// `cargo test --test policy_table coverage -- --ignored --nocapture`.
#[test]
#[ignore]
fn coverage_of_the_test_part_interval() {
    use cartlift::uplift;
    let dir = tempfile::tempdir().unwrap();
    let fresh = fresh_draws(77);
    let opts = planted_options(Some("part"));
    let (mut covered, mut runs) = (0, 0);
    for seed in 1000..1200 {
        let table = dir.path().join("units.csv");
        planted_table(&table, 6000, seed);
        let df = uplift::read_table(&table).unwrap();
        let report = uplift::run_table(&df, "units.csv", &opts).unwrap();
        let tree = serde_json::to_value(&report.tree).unwrap();
        let gain = report
            .gains
            .iter()
            .find(|g| g.name == "over_best_single_arm")
            .unwrap();
        // The comparator: the best single arm on the train part.
        let single_offer = report.best_single_arm == "offer";
        let truth: f64 = fresh
            .iter()
            .map(|&(age, channel, noise)| {
                let arm = tree_arm(&tree, age, channel, noise);
                planted_rate(arm == "offer", age) - planted_rate(single_offer, age)
            })
            .sum::<f64>()
            / fresh.len() as f64;
        runs += 1;
        if gain.value.ci.contains(truth) {
            covered += 1;
        }
    }
    let share = covered as f64 / runs as f64;
    println!(
        "coverage of the test part's 95% interval for the tree's gain over the best single arm: {covered}/{runs} = {share:.3}"
    );
    assert!((0.90..=0.99).contains(&share), "{share}");
}

/// Coverage of the cross-fitted 95% interval (no split: every unit valued
/// on the held-out fold it belongs to) for the gain of the chosen tree (the
/// one learned on all units, the tree `--write-flow` deploys) over the
/// best single arm, beside the same-data estimate for contrast (the tree's
/// value on the units it was chosen from, with the same standard error).
/// 200 experiments (seeds 3000–3199, 6,000 units), true gains under the
/// planted rates on 200,000 fresh covariate draws. Slow in a debug build:
/// `cargo test --test policy_table cross_fitted -- --ignored --nocapture`.
#[test]
#[ignore]
fn coverage_of_the_cross_fitted_interval() {
    use cartlift::uplift;
    let dir = tempfile::tempdir().unwrap();
    let fresh = fresh_draws(78);
    let opts = planted_options(None);
    let (mut covered, mut same_covered, mut runs) = (0, 0, 0);
    let (mut bias, mut same_bias) = (0.0, 0.0);
    for seed in 3000..3200 {
        let table = dir.path().join("units.csv");
        planted_table(&table, 6000, seed);
        let df = uplift::read_table(&table).unwrap();
        let report = uplift::run_table(&df, "units.csv", &opts).unwrap();
        let tree = serde_json::to_value(&report.tree).unwrap();
        let gain = report
            .gains
            .iter()
            .find(|g| g.name == "over_best_single_arm")
            .unwrap();
        // The true best single arm: the offer adds 10 points above the age
        // cut and takes 4 below, so on average it wins.
        let truth: f64 = fresh
            .iter()
            .map(|&(age, channel, noise)| {
                let arm = tree_arm(&tree, age, channel, noise);
                planted_rate(arm == "offer", age) - planted_rate(true, age)
            })
            .sum::<f64>()
            / fresh.len() as f64;
        let best_single = report
            .values
            .iter()
            .filter(|v| v.name.starts_with("treat_all:"))
            .map(|v| v.value.estimate)
            .fold(f64::NEG_INFINITY, f64::max);
        let same_data = report.same_data_value - best_single;
        let half = (gain.value.ci.upper - gain.value.ci.lower) / 2.0;
        runs += 1;
        covered += usize::from(gain.value.ci.contains(truth));
        same_covered += usize::from((same_data - truth).abs() <= half);
        bias += gain.value.estimate - truth;
        same_bias += same_data - truth;
    }
    let share = covered as f64 / runs as f64;
    let same_share = same_covered as f64 / runs as f64;
    println!(
        "cross-fitted 95% interval for the chosen tree's gain over the best single arm: covered {covered}/{runs} = {share:.3}, mean error {:+.4}; same-data estimate ± the same half-width: {same_covered}/{runs} = {same_share:.3}, mean error {:+.4}",
        bias / runs as f64,
        same_bias / runs as f64
    );
    assert!((0.90..=0.99).contains(&share), "{share}");
    assert!(same_share < share, "{same_share} vs {share}");
}

/// On a flow's own log: `policy EVENTS --flow F --covariates all` learns
/// over the carts' covariates, one unit per customer, with the flow's arm
/// weights as the randomization probabilities and the holdout as control.
#[test]
fn a_flow_log_learns_over_cart_covariates() {
    let dir = tempfile::tempdir().unwrap();
    let flow = root().join("data/sample/explore.toml");
    let events = dir.path().join("ev.parquet");
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "12000",
        "--seed",
        "3",
        "--out",
        s(&events),
    ]);
    let json = dir.path().join("p.json");
    let out = run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow),
        "--covariates",
        "all",
        "--json",
        s(&json),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(!text.contains("NaN"));
    let j = read_json(&json);
    assert_eq!(j["control"], "holdout");
    assert_eq!(j["arms"][0]["name"], "holdout");
    assert!((j["arms"][0]["propensity"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(j["metric"], "net_contribution");
    let features: Vec<&str> = j["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "cart_value",
        "customer_prior_spend",
        "abandoned_hour",
        "abandoned_weekday",
    ] {
        assert!(features.contains(&f), "{features:?}");
    }
    assert!(features.iter().any(|f| f.starts_with("customer_status=")));
    // Four treatment arms, each ranked against the holdout; money is not
    // 0/1, so the normalized areas are absent and uplift@k is in money.
    let rankings = j["rankings"].as_array().unwrap();
    assert_eq!(rankings.len(), 4);
    // Same log, same options: the same bytes.
    let again = dir.path().join("p2.json");
    run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow),
        "--covariates",
        "all",
        "--json",
        s(&again),
    ]);
    assert_eq!(
        std::fs::read(&json).unwrap(),
        std::fs::read(&again).unwrap()
    );
    assert!(rankings.iter().all(|r| r["qini_auc"].is_null()));
    assert!(rankings.iter().all(|r| r["uplift_at_30_by_group"].is_f64()));
    // The recommendation written back: a flow file that reads back, with the
    // holdout at its weight and the arm (or the tree's branches) it deploys.
    let next = dir.path().join("next.toml");
    run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow),
        "--covariates",
        "cart_value",
        "--write-flow",
        s(&next),
    ]);
    let config = cartlift::config::FlowConfig::load(&next).unwrap();
    let original = cartlift::config::FlowConfig::load(&flow).unwrap();
    assert_eq!(config.holdout(), original.holdout());
    assert_eq!(config.arms.len(), 2, "{config:?}");
    let text = std::fs::read_to_string(&next).unwrap();
    assert!(
        text.starts_with("# Next flow written by `cartlift policy --covariates`"),
        "{text}"
    );
}

/// The evidence rule without heterogeneity: the offer adds 3 points for
/// everyone, so no tree beats offering it to all. Over 200 tables (seeds
/// 2000–2199, 6,000 units, the default cross-validated procedure) the
/// rule recommends a tree in at most 5% of them. Slow in a debug build:
/// `cargo test --test policy_table no_change -- --ignored --nocapture`.
#[test]
#[ignore]
fn no_change_without_heterogeneity() {
    use cartlift::uplift::{self, Ranker, TableOptions};
    let dir = tempfile::tempdir().unwrap();
    let opts = TableOptions {
        arm_col: "arm".into(),
        control: "control".into(),
        metric: "bought".into(),
        cost_per_treated: 0.0,
        value_per_unit: 1.0,
        covariates: vec!["age".into(), "channel".into(), "noise".into()],
        split_col: None,
        folds: 5,
        depth: 2,
        grid: 32,
        min_leaf_share: 0.05,
        current: None,
        alpha: 0.05,
        seed: 1,
        ranker: Ranker::TLearner,
        model_depth: None,
        weights: None,
    };
    let (mut trees, mut runs) = (0u32, 0u32);
    let mut outcomes = std::collections::BTreeMap::new();
    for seed in 2000..2200 {
        let table = dir.path().join("units.csv");
        table_with_rates(
            &table,
            6000,
            seed,
            |offer, _| if offer { 0.13 } else { 0.10 },
        );
        let df = uplift::read_table(&table).unwrap();
        let report = uplift::run_table(&df, "units.csv", &opts).unwrap();
        runs += 1;
        if report.decision.recommend == "policy_tree" {
            trees += 1;
        }
        *outcomes.entry(report.decision.recommend).or_insert(0u32) += 1;
    }
    let share = f64::from(trees) / f64::from(runs);
    println!("no heterogeneity: a tree recommended in {trees}/{runs} tables ({share:.3}); every outcome: {outcomes:?}");
    assert!(share <= 0.05, "{share}");
}
