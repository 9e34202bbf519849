//! `cartlift policy` on the simulator. The closed loop (exploration flow →
//! simulate → policy → next flow → evaluate under the true model) reaches
//! the oracle's net contribution in price-sensitive, insensitive and mixed
//! populations, and never recommends a discount where discounts only
//! subsidize; the discount split adds up to the cent; bad input gets a
//! clear message and no recommendation.
//!
//! The loops run in-process (one simulation, reconstruction and analysis
//! per population and seed); one runs through the real binary. Figures are
//! printed with `--nocapture`.

mod common;
use cartlift::config::FlowConfig;
use cartlift::flow::{self, table::EventTable};
use cartlift::policy::{self, PolicyOptions, PolicyReport};
use cartlift::simulate;
use common::*;
use rayon::prelude::*;

/// Carts per exploration run, and for each evaluation under the true model.
const CARTS: usize = 150_000;
/// The same through the binary (the loop's contract, not its statistics).
const CLI_CARTS: usize = 100_000;

struct Loop {
    population: &'static str,
    seed: u64,
    report: PolicyReport,
    next: FlowConfig,
    /// The oracle (best threshold of the template) applied to every entry,
    /// and beside the holdout at its weight.
    oracle: f64,
    oracle_with_holdout: f64,
    oracle_policy: String,
    /// The next flow as deployed (holdout at its weight).
    achieved: f64,
    /// The current arm deployed beside the holdout: where the loop started.
    current: f64,
    /// The recommendation had the blanket discount been the current arm.
    from_discount: PolicyReport,
}

fn closed_loop(population: &'static str, seed: u64) -> Loop {
    let config = FlowConfig::load(&test_flow(&format!("policy_{population}.toml"))).unwrap();
    let sim = simulate::simulate(&config, CARTS, seed).unwrap();
    let table = EventTable::from_events(&sim.events);
    drop(sim);
    let carts = flow::reconstruct(&table, &config).unwrap().carts;
    drop(table);
    let report = policy::analyze(&carts, &config, &PolicyOptions::default()).unwrap();
    let blanket = PolicyOptions {
        current: Some("incentive_all".into()),
        ..PolicyOptions::default()
    };
    let from_discount = policy::analyze(&carts, &config, &blanket).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        !json.contains("NaN") && !json.contains("\"estimate\":null"),
        "no NaN in the report"
    );
    let text = policy::next_flow(&config, &report, "a simulated log").unwrap();
    let next = FlowConfig::parse(&text).unwrap();
    let truth = simulate::evaluate(&config, CARTS, seed).unwrap();
    let oracle = truth
        .oracle
        .clone()
        .expect("the exploration flow has a template");
    let achieved = simulate::evaluate(&next, CARTS, seed).unwrap();
    let h = config.holdout();
    let current = (1.0 - h.weight) * truth.arms["no_incentive"].net_contribution_per_entry
        + h.weight * truth.arms[&h.name].net_contribution_per_entry;
    Loop {
        population,
        seed,
        report,
        next,
        oracle: oracle.net_contribution_per_entry,
        oracle_with_holdout: oracle.net_contribution_per_entry_with_holdout,
        oracle_policy: oracle.policy,
        achieved: achieved.net_contribution_per_entry,
        current,
        from_discount,
    }
}

fn offers_discount(next: &FlowConfig) -> bool {
    next.arms
        .iter()
        .filter(|a| !a.holdout)
        .any(|a| a.steps.iter().any(|s| s.incentive.is_some()))
}

#[test]
fn closed_loop_reaches_the_oracle_in_every_population() {
    // Query planning recurses deeply in unoptimized builds: give workers room.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(64 << 20)
        .build()
        .unwrap();
    let runs: Vec<(&'static str, u64)> = vec![
        ("sensitive", 1),
        ("sensitive", 2),
        ("insensitive", 1),
        ("insensitive", 2),
        ("mixed", 1),
        ("mixed", 2),
    ];
    let loops: Vec<Loop> = pool.install(|| {
        runs.par_iter()
            .map(|&(p, seed)| closed_loop(p, seed))
            .collect()
    });
    println!(
        "population   seed  oracle policy      oracle  +holdout  achieved  ratio  +holdout  current  captured  recommended"
    );
    for l in &loops {
        let gain = l.oracle_with_holdout - l.current;
        println!(
            "{:<12} {:>4}  {:<18} {:>7.4}  {:>8.4}  {:>8.4}  {:>5.3}  {:>8.3}  {:>7.4}  {:>8}  {}",
            l.population,
            l.seed,
            l.oracle_policy,
            l.oracle,
            l.oracle_with_holdout,
            l.achieved,
            l.achieved / l.oracle,
            l.achieved / l.oracle_with_holdout,
            l.current,
            if gain > 1e-9 {
                format!("{:.3}", (l.achieved - l.current) / gain)
            } else {
                "-".into()
            },
            l.report.recommendation.policy
        );
        if l.population == "insensitive" {
            println!(
                "{:>20}(had `incentive_all` been current: {})",
                "", l.from_discount.recommendation.policy
            );
        }
    }
    for l in &loops {
        let what = format!("{} seed {}", l.population, l.seed);
        assert!(
            l.achieved >= 0.95 * l.oracle_with_holdout,
            "{what}: {} < 95% of the oracle's {}",
            l.achieved,
            l.oracle_with_holdout
        );
        if l.population == "insensitive" {
            assert!(
                !offers_discount(&l.next),
                "{what}: a discount recommended where it only subsidizes: {}",
                l.report.recommendation.policy
            );
            assert_eq!(l.oracle_policy, "never", "{what}");
            // Even when the blanket discount is what runs today.
            let steps = &l.from_discount.recommendation.steps;
            assert!(
                steps.iter().all(|s| s.incentive.is_none()),
                "{what}: from the blanket discount, kept {}",
                l.from_discount.recommendation.policy
            );
            assert!(l.from_discount.recommendation.changed);
        }
        if l.population == "sensitive" {
            assert!(offers_discount(&l.next), "{what}: the discount pays here");
        }
        // Beyond the level (most net contribution comes from shoppers who
        // return anyway): where the oracle gains materially over the current
        // arm, the next flow captures a good part of that gain.
        let gain = l.oracle_with_holdout - l.current;
        if gain > 0.1 {
            let captured = (l.achieved - l.current) / gain;
            assert!(
                captured >= 0.5,
                "{what}: captured {captured:.3} of the oracle's gain"
            );
        }
        discount_split_adds_up(&l.report, &what);
    }
}

/// incremental margin − incentive cost − message cost = net contribution,
/// to the cent, per entry and in total, for every arm in every segment; and
/// the incentive cost is the discount converted shoppers got plus the subsidy.
fn discount_split_adds_up(r: &PolicyReport, what: &str) {
    let mut checked = 0;
    for seg in &r.segments {
        for arm in &seg.arms {
            let Some(v) = &arm.versus_holdout else {
                continue;
            };
            let i = &v.incentive_cost;
            let per_entry = v.incremental_margin.estimate
                - i.total.estimate
                - v.message_cost.estimate
                - v.net_contribution.estimate;
            assert!(
                per_entry.abs() < 0.005,
                "{what} {} {}: {per_entry}",
                seg.cart_value_band,
                arm.arm
            );
            let split = i.converted_because.estimate + i.subsidy.estimate - i.total.estimate;
            assert!(split.abs() < 0.005, "{what}: split {split}");
            let t = &v.totals;
            let total =
                t.incremental_margin - t.incentive_cost - t.message_cost - t.net_contribution;
            assert!(total.abs() < 0.005, "{what}: totals {total}");
            assert!((t.converted_because + t.subsidy - t.incentive_cost).abs() < 0.005);
            checked += 1;
        }
    }
    assert!(
        checked >= r.segments.len(),
        "{what}: {checked} arm × segment results"
    );
}

/// The whole loop through the real binary on the shipped exploration flow:
/// the oracle in TRUTH.json, the JSON keys, a next flow that parses back
/// with the holdout and `[simulation]` kept, and `simulate --evaluate`.
#[test]
fn cli_loop_on_the_sample_exploration_flow() {
    let dir = tempfile::tempdir().unwrap();
    let flow_file = root().join("data/sample/explore.toml");
    let (events, truth, json, next) = (
        dir.path().join("events.parquet"),
        dir.path().join("TRUTH.json"),
        dir.path().join("policy.json"),
        dir.path().join("next.toml"),
    );
    let n = CLI_CARTS.to_string();
    run(&[
        "simulate",
        "--flow",
        s(&flow_file),
        "--carts",
        &n,
        "--seed",
        "3",
        "--out",
        s(&events),
        "--truth",
        s(&truth),
    ]);
    let oracle = read_json(&truth)["oracle"].clone();
    assert_eq!(oracle["template"], "incentive_ge100");
    assert!(oracle["curve"].as_array().unwrap().len() > 100);
    let out = run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow_file),
        "--json",
        s(&json),
        "--write-flow",
        s(&next),
        "--explore",
        "0.05",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        stdout.contains("recommended:") && !stdout.contains("NaN"),
        "{stdout}"
    );

    let text = std::fs::read_to_string(&json).unwrap();
    assert!(!text.contains("NaN"));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "rule",
        "current_arm",
        "holdout",
        "margin",
        "not_modelled",
        "segments",
        "curve",
        "candidates",
        "recommendation",
        "exploration",
    ] {
        assert!(!r[key].is_null(), "JSON has `{key}`");
    }
    assert!(r["rule"].as_str().unwrap().contains("lower 95% bound"));
    assert_eq!(r["current_arm"], "no_incentive");
    assert_eq!(r["segments"].as_array().unwrap().len(), 4 * 3);
    let curve = r["curve"].as_array().unwrap();
    let thresholds: Vec<Option<f64>> = curve.iter().map(|p| p["threshold"].as_f64()).collect();
    assert_eq!(
        thresholds,
        [Some(0.0), Some(50.0), Some(100.0), Some(150.0), None]
    );
    for p in curve {
        let ci = &p["net_contribution_per_entry"]["ci"];
        assert!(ci["lower"].as_f64().unwrap() < ci["upper"].as_f64().unwrap());
    }
    let seg = &r["segments"][0];
    let arm = &seg["arms"][0]["versus_holdout"];
    for key in [
        "incremental_conversions",
        "incremental_revenue",
        "incremental_margin",
        "message_cost",
        "net_contribution",
    ] {
        assert!(arm[key]["ci"]["lower"].is_number(), "{key}");
    }
    for key in ["total", "converted_because", "subsidy"] {
        assert!(arm["incentive_cost"][key]["estimate"].is_number(), "{key}");
    }

    let next_text = std::fs::read_to_string(&next).unwrap();
    assert!(next_text.starts_with("# Next flow written by `cartlift policy`"));
    assert!(next_text.contains("# Expected gain over the current arm `no_incentive`:"));
    assert!(next_text.contains("95% CI ["));
    let input = FlowConfig::load(&flow_file).unwrap();
    let written = FlowConfig::parse(&next_text).unwrap();
    assert_eq!(written.arms.len(), 3);
    assert_eq!(written.arms[0], *input.holdout());
    assert_eq!(written.arms[2].name, "explore");
    assert_eq!(written.arms[2].weight, 0.05);
    assert_eq!(written.simulation, input.simulation);
    assert_eq!(
        (written.margin.clone(), written.segments.clone()),
        (input.margin.clone(), input.segments.clone())
    );
    assert_eq!(written.assignment, input.assignment);
    let again = FlowConfig::parse(&written.to_toml().unwrap()).unwrap();
    assert_eq!(again, written);

    let evaluated = |flow: &std::path::Path| -> f64 {
        let out = run(&[
            "simulate",
            "--flow",
            s(flow),
            "--seed",
            "3",
            "--evaluate",
            &n,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("expected net contribution per entry: "))
            .unwrap_or_else(|| panic!("{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let achieved = evaluated(&next);
    let explored = evaluated(&flow_file);
    let best = oracle["net_contribution_per_entry_with_holdout"]
        .as_f64()
        .unwrap();
    println!("sample explore seed 3: exploration flow {explored:.4}, next flow {achieved:.4}, oracle beside the holdout {best:.4} ({})", oracle["policy"]);
    assert!(achieved >= 0.95 * best, "{achieved} < 95% of {best}");
}

fn simulate_to(
    flow_file: &std::path::Path,
    carts: usize,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let events = dir.join("events.parquet");
    run(&[
        "simulate",
        "--flow",
        s(flow_file),
        "--carts",
        &carts.to_string(),
        "--seed",
        "5",
        "--out",
        s(&events),
    ]);
    events
}

/// Runs `policy`, expecting failure; returns standard error.
fn policy_fails(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn arms_that_do_not_differ_get_no_recommendation() {
    let dir = tempfile::tempdir().unwrap();
    let flow_file = test_flow("policy_same_arms.toml");
    let events = simulate_to(&flow_file, 3000, dir.path());
    let (json, next) = (dir.path().join("p.json"), dir.path().join("next.toml"));
    let err = policy_fails(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow_file),
        "--json",
        s(&json),
        "--write-flow",
        s(&next),
    ]);
    assert!(
        err.contains("`ten_a`, `ten_b` give every segment the same treatment"),
        "{err}"
    );
    assert!(!json.exists() && !next.exists(), "nothing written");
    // One treatment arm beside the holdout: nothing to choose between either.
    let err = policy_fails(&["policy", s(&events), "--flow", s(&sample_flow())]);
    assert!(
        err.contains("field `arms`") && err.contains("at least two randomized treatment arms"),
        "{err}"
    );
    assert!(err.contains("flow.toml"), "names the file: {err}");
}

#[test]
fn a_channel_without_a_message_cost_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let flow_file = test_flow("policy_no_cost.toml");
    let events = simulate_to(&flow_file, 500, dir.path());
    let err = policy_fails(&["policy", s(&events), "--flow", s(&flow_file)]);
    assert!(err.contains("policy_no_cost.toml"), "{err}");
    assert!(
        err.contains("field `margin.message_cost`: no cost for channel `email`"),
        "{err}"
    );
    assert!(
        err.contains("email = 0.002"),
        "says what is expected: {err}"
    );
}

#[test]
fn a_segment_without_data_keeps_the_current_treatment() {
    let dir = tempfile::tempdir().unwrap();
    let flow_file = test_flow("policy_empty_band.toml");
    let events = simulate_to(&flow_file, 40_000, dir.path());
    let (json, next) = (dir.path().join("p.json"), dir.path().join("next.toml"));
    let out = run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow_file),
        "--json",
        s(&json),
        "--write-flow",
        s(&next),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("warning: segment >=5000 × new: no entries; it keeps the current treatment"),
        "{stdout}"
    );
    let r = read_json(&json);
    let empty: Vec<&serde_json::Value> = r["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cart_value_band"] == ">=5000")
        .collect();
    assert_eq!(empty.len(), 3);
    for s in empty {
        assert_eq!(s["entries"], 0);
        assert_eq!(s["changed"], false);
        assert_eq!(s["recommended"], s["current"]);
        assert!(s["note"].as_str().unwrap().contains("no entries"));
        assert!(s["arms"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no entries"));
    }
    // The same input gives the same bytes.
    let (json2, next2) = (dir.path().join("p2.json"), dir.path().join("next2.toml"));
    run(&[
        "policy",
        s(&events),
        "--flow",
        s(&flow_file),
        "--json",
        s(&json2),
        "--write-flow",
        s(&next2),
    ]);
    assert_eq!(
        std::fs::read(&json).unwrap(),
        std::fs::read(&json2).unwrap()
    );
    assert_eq!(
        std::fs::read(&next).unwrap(),
        std::fs::read(&next2).unwrap()
    );
    // The next flow offers nothing new to carts of 5000 or more.
    let written = FlowConfig::parse(&std::fs::read_to_string(&next).unwrap()).unwrap();
    for step in &written.arms[1].steps {
        if let Some(inc) = &step.incentive {
            assert!(!inc.applies_to(6000.0, "new"), "{inc:?}");
        }
    }
}
