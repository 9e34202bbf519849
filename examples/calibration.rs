//! The full calibration of lift's intervals on the Hillstrom untreated
//! customers (tests/data/hillstrom/untreated_spend.csv): A/A splits and
//! known additive and multiplicative effects at 50/50, 10/90 and 5/95, for
//! 500 customers up to all 21,306; then the confidence sequences over 10
//! looks. Prints the README's tables (markdown) to stdout.
//!
//! ```sh
//! cargo run --example calibration -- [REPLICATES (default 4000)] [SEED (default 1)]
//! ```
//!
//! Every cell is the share of replicates whose 95% interval misses the truth
//! below / above (for A/A: a false positive in the lower / upper tail), with
//! a Wilson 95% interval for the total, and the share withheld.

use cartlift::lift::calibration::{
    calibrate, calibrate_sequential, Calibration, Design, Effect, Tally, INTERVALS,
    SEQUENTIAL_INTERVALS,
};
use cartlift::stats::{wilson_interval, Proportion};

const ALPHA: f64 = 0.05;
const SPLITS: [f64; 3] = [0.5, 0.1, 0.05];
const SIZES: [usize; 4] = [500, 2000, 5000, usize::MAX];
/// The issue's known additive effect (+$0.30 per customer, +46% of the mean)
/// and a multiplicative one of about the same size.
const EFFECTS: [Effect; 3] = [Effect::None, Effect::Add(0.30), Effect::Multiply(1.5)];

fn population() -> Vec<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hillstrom/untreated_spend.csv"
    );
    let mut rdr = csv::Reader::from_path(path).expect("the Hillstrom test data");
    rdr.records()
        .map(|r| r.expect("a row")[0].parse::<f64>().expect("a number"))
        .collect()
}

fn cell(t: &Tally) -> String {
    let shown = t.shown();
    if shown == 0 {
        return format!("withheld {:.0}%", 100.0);
    }
    let misses = t.below + t.above;
    let ci = wilson_interval(
        &Proportion {
            n: shown as f64,
            successes: misses as f64,
        },
        0.05,
    )
    .expect("wilson");
    let pct = |x: u64| 100.0 * x as f64 / shown as f64;
    let mut s = format!(
        "{:.1}% [{:.1}, {:.1}] ({:.1} / {:.1})",
        100.0 * t.miss_rate(),
        100.0 * ci.lower,
        100.0 * ci.upper,
        pct(t.below),
        pct(t.above)
    );
    if t.withheld > 0 {
        s += &format!(
            " +{:.1}% withheld",
            100.0 * t.withheld as f64 / t.replicates as f64
        );
    }
    s
}

fn size_name(size: usize, population: usize) -> String {
    if size >= population {
        format!("all {population}")
    } else {
        format!("n = {size}")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let replicates: u64 = args.get(1).map_or(4000, |a| a.parse().expect("replicates"));
    let seed: u64 = args.get(2).map_or(1, |a| a.parse().expect("seed"));
    let pop = population();
    let mu = pop.iter().sum::<f64>() / pop.len() as f64;
    println!(
        "{} customers, mean spend {mu:.4}, {replicates} replicates per cell, seed {seed}, alpha {ALPHA}\n",
        pop.len()
    );
    let started = std::time::Instant::now();
    for effect in EFFECTS {
        let title = match effect {
            Effect::None => "A/A: false positives, total [95% CI] (lower / upper tail)".to_string(),
            Effect::Add(a) => format!(
                "+${a:.2} per customer (relative +{:.1}%): misses, total [95% CI] (below / above)",
                100.0 * a / mu
            ),
            Effect::Multiply(m) => format!(
                "×{m} (absolute +${:.4}): misses, total [95% CI] (below / above)",
                (m - 1.0) * mu
            ),
        };
        println!("### {title}\n");
        let mut results: Vec<Calibration> = Vec::new();
        for split in SPLITS {
            for size in SIZES {
                let design = Design {
                    treatment_share: split,
                    size: size.min(pop.len()),
                };
                results.push(calibrate(&pop, design, effect, replicates, seed, ALPHA));
            }
        }
        let header: Vec<String> = results
            .iter()
            .map(|c| {
                format!(
                    "{:.0}/{:.0}, {}",
                    100.0 * c.design.treatment_share,
                    100.0 * (1.0 - c.design.treatment_share),
                    size_name(c.design.size, pop.len())
                )
            })
            .collect();
        println!("| interval | {} |", header.join(" | "));
        println!("|---|{}", "---|".repeat(header.len()));
        let rows: Vec<usize> = match effect {
            Effect::None => (0..INTERVALS.len()).collect(),
            _ => (0..4).collect(),
        };
        for k in rows {
            let cells: Vec<String> = results.iter().map(|c| cell(&c.tallies[k])).collect();
            println!("| {} | {} |", INTERVALS[k], cells.join(" | "));
        }
        println!();
        eprintln!("{title}: {:.0}s", started.elapsed().as_secs_f64());
    }
    println!("### Confidence sequences, A/A, any of 10 looks: false positives [95% CI]\n");
    let mut header = Vec::new();
    let mut columns = Vec::new();
    for split in [0.5, 0.1] {
        for size in [2000, usize::MAX] {
            let design = Design {
                treatment_share: split,
                size: size.min(pop.len()),
            };
            header.push(format!(
                "{:.0}/{:.0}, {}",
                100.0 * split,
                100.0 * (1.0 - split),
                size_name(design.size, pop.len())
            ));
            columns.push(calibrate_sequential(
                &pop, design, 10, replicates, seed, ALPHA,
            ));
        }
    }
    println!("| interval | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(header.len()));
    for (k, name) in SEQUENTIAL_INTERVALS.iter().enumerate() {
        let cells: Vec<String> = columns.iter().map(|c| cell(&c[k])).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    eprintln!("done in {:.0}s", started.elapsed().as_secs_f64());
}
