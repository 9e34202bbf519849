//! Calibration on the simulator: across 500 simulated experiments with known
//! true effects (potential outcomes), the 95% intervals cover the truth
//! 93–97% of the time; sequential intervals cover it at every interim look
//! at least 95% of the time; CUPED narrows intervals.
//!
//! Runs in-process (a minute or two); prints its figures with `--nocapture`.

use cartlift::config::FlowConfig;
use cartlift::flow::{self, table::EventTable};
use cartlift::lift::{self, LiftOptions, LiftReport};
use cartlift::simulate;
use polars::prelude::*;
use rayon::prelude::*;

const EXPERIMENTS: u64 = 500;
const CARTS: usize = 1200;
const LOOKS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

struct Outcome {
    conversion_covered: bool,
    revenue_covered: bool,
    sequential_all_looks: bool,
    width_plain: f64,
    width_cuped: f64,
}

fn result<'a>(r: &'a LiftReport, metric: &str) -> &'a lift::LiftResult {
    r.results
        .iter()
        .find(|x| x.metric == metric && x.segment.dimension == "all")
        .expect("metric reported")
}

/// The population's true effects: potential outcomes of a large simulated
/// population from the same model. Each experiment is a sample of it, so
/// this is the estimand its intervals target (the finite-sample effect
/// differs from it by the heterogeneity Welch's variance already counts).
fn population_truth(config: &FlowConfig) -> (f64, f64) {
    let sim = simulate::simulate(config, 200_000, 0).unwrap();
    let e = &sim.truth.effects["flow"];
    (e.conversion_rate, e.revenue_per_customer)
}

fn experiment(config: &FlowConfig, seed: u64, (truth_conv, truth_rev): (f64, f64)) -> Outcome {
    let sim = simulate::simulate(config, CARTS, seed).unwrap();
    let table = EventTable::from_events(&sim.events);
    let carts = flow::reconstruct(&table, config).unwrap().carts;
    let planned = carts.height() as f64;
    let opts = LiftOptions {
        cuped: true,
        sequential_planned: Some(planned),
        ..LiftOptions::default()
    };
    let full = lift::analyze_carts(&carts, config, &[], &opts).unwrap();
    let conv = result(&full, "conversion_rate").absolute.unwrap();
    let rev = result(&full, "revenue_per_recipient");
    let rev_abs = rev.absolute.unwrap();
    let cuped = rev.cuped.as_ref().unwrap().absolute;

    // Interim looks: the entries that had entered by each point in time.
    let entered = carts
        .column("entered_at")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let (lo, hi) = (entered.min().unwrap(), entered.max().unwrap());
    let mut all_looks = true;
    for frac in LOOKS {
        let cutoff = lo + ((hi - lo) as f64 * frac) as i64;
        let mask = entered.lt_eq(cutoff);
        let part = carts.filter(&mask).unwrap();
        let r = lift::analyze_carts(&part, config, &[], &opts).unwrap();
        for (metric, truth) in [
            ("conversion_rate", truth_conv),
            ("revenue_per_recipient", truth_rev),
        ] {
            let seq = result(&r, metric).sequential.as_ref().unwrap().absolute;
            all_looks &= seq.ci.contains(truth);
        }
    }
    Outcome {
        conversion_covered: conv.ci.contains(truth_conv),
        revenue_covered: rev_abs.ci.contains(truth_rev),
        sequential_all_looks: all_looks,
        width_plain: rev_abs.ci.upper - rev_abs.ci.lower,
        width_cuped: cuped.ci.upper - cuped.ci.lower,
    }
}

#[test]
fn intervals_cover_the_true_effects() {
    let config = FlowConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flows/calibration.toml"),
    )
    .unwrap();
    // Query planning recurses deeply in unoptimized builds: give workers room.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 << 20)
        .build()
        .unwrap();
    let truth = population_truth(&config);
    let outcomes: Vec<Outcome> = pool.install(|| {
        (1..=EXPERIMENTS)
            .into_par_iter()
            .map(|seed| experiment(&config, seed, truth))
            .collect()
    });
    let n = outcomes.len() as f64;
    let share = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count() as f64 / n;
    let conv = share(&|o| o.conversion_covered);
    let rev = share(&|o| o.revenue_covered);
    let seq = share(&|o| o.sequential_all_looks);
    let narrower = share(&|o| o.width_cuped < o.width_plain);
    let ratio: f64 = outcomes
        .iter()
        .map(|o| o.width_cuped / o.width_plain)
        .sum::<f64>()
        / n;
    println!(
        "true effects {truth:?}; {EXPERIMENTS} experiments of {CARTS} carts: coverage conversion {conv:.3}, revenue/recipient {rev:.3}, \
         sequential at all {} looks {seq:.3}; CUPED narrower in {narrower:.3}, mean width ratio {ratio:.3}",
        LOOKS.len()
    );
    assert!((0.93..=0.97).contains(&conv), "conversion coverage {conv}");
    assert!((0.93..=0.97).contains(&rev), "revenue coverage {rev}");
    assert!(seq >= 0.95, "sequential coverage at every look {seq}");
    assert!(
        narrower > 0.9 && ratio < 0.985,
        "CUPED narrows: {narrower} {ratio}"
    );
}
