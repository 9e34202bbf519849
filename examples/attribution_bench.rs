//! Attribution benchmark driver: reads a path table, runs every heuristic,
//! exact Markov (order 1) and both Shapley forms, and writes the credit JSON.
//!
//! Usage: attribution_bench PATHS.csv [OUT.json]
//! Timings per stage go to stderr; `benches/attribution/bench.sh` wraps it
//! in `/usr/bin/time -v` for wall time and peak memory.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cartlift::attribution::{credit_to_json, read_path_table, standard_models, PathTableOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let input = args
        .first()
        .context("usage: attribution_bench PATHS.csv [OUT.json]")?;
    let started = Instant::now();
    let paths = read_path_table(Path::new(input), &PathTableOptions::default())?;
    eprintln!(
        "read {} distinct paths over {} channels in {:.3} s",
        paths.paths.len(),
        paths.channels.len(),
        started.elapsed().as_secs_f64()
    );
    let mut credits = Vec::new();
    for model in standard_models() {
        let t = Instant::now();
        credits.push(model.attribute(&paths));
        eprintln!("{:<16} {:.3} s", model.name(), t.elapsed().as_secs_f64());
    }
    let json = credit_to_json(&credits, &paths.channels);
    match args.get(1) {
        Some(out) => std::fs::write(out, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("cannot write {out}"))?,
        None => println!("{}", serde_json::to_string_pretty(&json)?),
    }
    eprintln!("total {:.3} s", started.elapsed().as_secs_f64());
    Ok(())
}
