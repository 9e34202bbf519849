//! What the command line shows while it works. Each long stage shows a
//! spinner with its name and elapsed time on stderr, only when stderr is a
//! terminal and `--quiet` is not given, so pipes, logs and CI stay clean;
//! with `-v` every stage also logs a line with its wall time, and `-vv` adds
//! detail lines (counts, sizes). Results never go to stderr.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI8, Ordering};
use std::time::{Duration, Instant};

static LEVEL: AtomicI8 = AtomicI8::new(0);

/// `-1` quiet, `0` normal, `1` stage timings, `2` details.
pub fn set_verbosity(level: i8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> i8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Runs `f` as a named stage: a spinner while it runs (terminal only), and
/// its wall time on stderr afterwards at `-v`.
pub fn stage<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let bar = spinner(name);
    let started = Instant::now();
    let out = f();
    bar.finish_and_clear();
    if verbosity() >= 1 {
        eprintln!("[{:>8.3} s] {name}", started.elapsed().as_secs_f64());
    }
    out
}

/// As [`stage`] without the spinner, for a stage that draws its own
/// counter ([`rows`]).
pub fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    if verbosity() >= 1 {
        eprintln!("[{:>8.3} s] {name}", started.elapsed().as_secs_f64());
    }
    out
}

/// A detail line at `-vv`.
pub fn detail(message: impl AsRef<str>) {
    if verbosity() >= 2 {
        eprintln!("             {}", message.as_ref());
    }
}

/// A counter of rows for a long read: rows done and the rate, on stderr
/// (terminal only, as [`stage`]'s spinner).
pub fn rows(name: &str) -> ProgressBar {
    if verbosity() < 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn spinner(name: &str) -> ProgressBar {
    if verbosity() < 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_returns_its_value() {
        // Under test stderr is not a terminal: no spinner, same result.
        assert_eq!(stage("adding", || 2 + 2), 4);
    }
}
