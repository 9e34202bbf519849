//! Runs killed at scripted points never leave an output that reads as
//! complete but is not, never damage an input, and a rerun succeeds.
//!
//! Each output is pre-filled by a complete run of another flow (another
//! salt: other arms, other bytes). After every kill each output must be
//! byte for byte that earlier run's or the new run's, never anything else.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn sha(p: &Path) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

/// Every file of an output (relative name, bytes); `None` when absent.
type Files = Option<Vec<(String, Vec<u8>)>>;

/// Every file under `dir` (relative name, bytes).
fn listing(dir: &Path) -> Files {
    if !dir.exists() {
        return None;
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    Some(out)
}

struct Case {
    args: Vec<String>,
    outputs: Vec<PathBuf>,
}

impl Case {
    fn snapshot(&self) -> Vec<Files> {
        self.outputs
            .iter()
            .map(|p| {
                if p.is_dir() {
                    listing(p)
                } else {
                    std::fs::read(p).ok().map(|b| vec![(String::new(), b)])
                }
            })
            .collect()
    }

    fn run(&self) -> Duration {
        let started = Instant::now();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        run(&args);
        started.elapsed()
    }

    /// Starts the run and kills it (SIGKILL) after `after`.
    fn kill_after(&self, after: Duration) {
        let mut child = bin()
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn flow_with_salt(dir: &Path, salt: &str) -> PathBuf {
    let text = std::fs::read_to_string(sample_flow()).unwrap();
    let start = text.find("salt = ").expect("the sample has a salt");
    let end = start + text[start..].find('\n').unwrap();
    let p = dir.join(format!("flow-{salt}.toml"));
    std::fs::write(
        &p,
        format!("{}salt = \"{salt}\"{}", &text[..start], &text[end..]),
    )
    .unwrap();
    p
}

/// Kills `case` at fractions of its clean run time; every output is the
/// old one or the new one each time, and the inputs never change.
fn check_kills(case_old: &Case, case_new: &Case, inputs: &[&Path]) {
    let inputs_before: Vec<Vec<u8>> = inputs.iter().map(|p| sha(p)).collect();
    case_new.run();
    let new = case_new.snapshot();
    let took = case_old.run();
    let old = case_old.snapshot();
    assert_ne!(old, new, "the two runs must differ to tell them apart");
    // Fixed points, spread over the run and past its end (seed-free, so
    // the test is the same every time; the machine's speed varies anyway).
    for fraction in [0.1, 0.3, 0.5, 0.7, 0.9, 1.2] {
        case_new.kill_after(took.mul_f64(fraction));
        let now = case_new.snapshot();
        for (i, out) in now.iter().enumerate() {
            assert!(
                *out == old[i] || *out == new[i],
                "after a kill at {fraction} of the run, {} is neither the previous nor the new output",
                case_new.outputs[i].display()
            );
        }
        for (p, before) in inputs.iter().zip(&inputs_before) {
            assert_eq!(&sha(p), before, "{} changed", p.display());
        }
        // Reset to the old run for the next kill.
        case_old.run();
    }
    case_new.run();
    assert_eq!(case_new.snapshot(), new, "a rerun after the kills succeeds");
}

#[test]
fn killed_paths_runs_leave_old_or_new_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.parquet");
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        "12000",
        "--seed",
        "5",
        "--out",
        s(&events),
    ]);
    let old_flow = flow_with_salt(dir.path(), "old-salt");
    let new_flow = flow_with_salt(dir.path(), "new-salt");
    let outputs = vec![
        dir.path().join("carts.csv"),
        dir.path().join("touches.parquet"),
        dir.path().join("audit.json"),
    ];
    let case = |flow: &Path| Case {
        args: vec![
            "paths".into(),
            s(&events).into(),
            "--flow".into(),
            s(flow).into(),
            "--out".into(),
            s(&outputs[0]).into(),
            "--touches".into(),
            s(&outputs[1]).into(),
            "--audit".into(),
            s(&outputs[2]).into(),
        ],
        outputs: outputs.clone(),
    };
    check_kills(&case(&old_flow), &case(&new_flow), &[&events, &new_flow]);
}

#[test]
fn killed_reports_leave_the_old_or_the_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    run(&[
        "simulate",
        "--flow",
        s(&sample_flow()),
        "--carts",
        "3000",
        "--seed",
        "5",
        "--out",
        s(&events),
    ]);
    let old_flow = flow_with_salt(dir.path(), "old-salt");
    let new_flow = flow_with_salt(dir.path(), "new-salt");
    let out = dir.path().join("report");
    let case = |flow: &Path| Case {
        args: vec![
            "report".into(),
            s(&events).into(),
            "--flow".into(),
            s(flow).into(),
            "--out".into(),
            s(&out).into(),
        ],
        outputs: vec![out.clone()],
    };
    check_kills(&case(&old_flow), &case(&new_flow), &[&events, &new_flow]);
}

/// Ctrl-C, a scheduler's stop or a closed terminal (SIGINT, SIGTERM,
/// SIGHUP) while `report` or `lift` stage raw events: the staged customer
/// data (a private folder in TMPDIR) and the half-built report are removed,
/// and the exit code says which signal stopped the run.
#[test]
fn interrupted_runs_leave_no_staged_data_behind() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    simulate_sample(&events, "6000", "5");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("report");
    let flow = sample_flow();
    let commands: [Vec<&str>; 2] = [
        vec!["report", s(&events), "--flow", s(&flow), "--out", s(&out)],
        vec!["lift", s(&events), "--flow", s(&flow)],
    ];
    let mut interrupted = 0;
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        for args in &commands {
            let mut child = bin()
                .args(args)
                .env("TMPDIR", &tmp)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            // Signalled once its scratch folder exists.
            while std::fs::read_dir(&tmp).unwrap().next().is_none()
                && child.try_wait().unwrap().is_none()
                && started.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            let finished = child.try_wait().unwrap();
            if finished.is_none() {
                let sent = std::process::Command::new("kill")
                    .args([format!("-{signal}"), child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(sent.success());
            }
            let status = child.wait().unwrap();
            if finished.is_none() && !status.success() {
                assert_eq!(status.code(), Some(code), "{args:?} on SIG{signal}");
                interrupted += 1;
            }
            let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
            assert!(left.is_empty(), "{args:?} on SIG{signal} left {left:?}");
            let staging: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("cartlift-staging"))
                .collect();
            assert!(
                staging.is_empty(),
                "{args:?} on SIG{signal} left {staging:?}"
            );
        }
    }
    assert!(
        interrupted >= 3,
        "the runs were interrupted only {interrupted} times"
    );
}
