//! Same inputs, same config, same seed → byte-identical outputs.

mod common;
use common::*;

#[test]
fn simulate_ingest_and_paths_are_byte_identical_across_runs() {
    let flow = sample_flow();
    let names = [
        "ev.csv",
        "truth.json",
        "ev.parquet",
        "q.csv",
        "carts.parquet",
        "touches.parquet",
        "audit.json",
    ];
    let mut outputs: Vec<Vec<Vec<u8>>> = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let d = |n: &str| dir.path().join(n);
        let here = dir.path();
        run_in(
            here,
            &[
                "simulate",
                "--flow",
                s(&flow),
                "--carts",
                "3000",
                "--seed",
                "9",
                "--out",
                "ev.csv",
                "--truth",
                "truth.json",
            ],
        );
        run_in(
            here,
            &[
                "ingest",
                "ev.csv",
                "--out",
                "ev.parquet",
                "--quarantine",
                "q.csv",
            ],
        );
        run_in(
            here,
            &[
                "paths",
                "ev.parquet",
                "--flow",
                s(&flow),
                "--out",
                "carts.parquet",
                "--touches",
                "touches.parquet",
                "--audit",
                "audit.json",
            ],
        );
        outputs.push(names.iter().map(|n| std::fs::read(d(n)).unwrap()).collect());
    }
    for (i, name) in names.iter().enumerate() {
        assert!(
            outputs[0][i] == outputs[1][i],
            "{name} differs between two identical runs"
        );
    }
}

#[test]
fn a_different_seed_gives_a_different_log() {
    let dir = tempfile::tempdir().unwrap();
    let flow = sample_flow();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "200",
        "--seed",
        "1",
        "--out",
        s(&a),
    ]);
    run(&[
        "simulate",
        "--flow",
        s(&flow),
        "--carts",
        "200",
        "--seed",
        "2",
        "--out",
        s(&b),
    ]);
    assert_ne!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}
