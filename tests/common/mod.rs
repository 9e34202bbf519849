//! Helpers for integration tests that run the real binary.
#![allow(dead_code)]

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cartlift"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample_flow() -> PathBuf {
    root().join("data/sample/flow.toml")
}

pub fn test_flow(name: &str) -> PathBuf {
    root().join("tests/data/flows").join(name)
}

/// Runs the binary and fails the test with its output if it fails.
pub fn run(args: &[&str]) -> Output {
    check(bin().args(args).output().expect("binary runs"), args)
}

/// Runs the binary in `dir` (so relative paths in outputs are the same across runs).
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    check(
        bin()
            .current_dir(dir)
            .args(args)
            .output()
            .expect("binary runs"),
        args,
    )
}

fn check(out: Output, args: &[&str]) -> Output {
    assert!(
        out.status.success(),
        "cartlift {:?} failed\nstdout:\n{}\nstderr:\n{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn read_parquet(p: &Path) -> DataFrame {
    let f = std::fs::File::open(p).expect("file exists");
    ParquetReader::new(f).finish().expect("parquet")
}

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("json file")).expect("valid json")
}

/// Simulates the sample flow (`carts` carts, `seed`) into `out` (canonical;
/// the container by extension).
pub fn simulate_sample(out: &Path, carts: &str, seed: &str) {
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        carts,
        "--seed",
        seed,
        "--out",
        s(out),
    ]);
}
