//! The output layer: every file and folder cartlift writes goes through here.
//!
//! - [`claim`] resolves every input and output of a command before anything
//!   is opened for writing, refuses an output that is an input, another
//!   output, or a folder holding an input (naming both options), and takes
//!   an advisory lock on each output for the rest of the run.
//! - [`write_file`] writes a file beside its target (a hidden temporary file
//!   in the same directory), flushes and fsyncs it, then renames it over the
//!   target: a reader sees the old file or the whole new one, never a part.
//! - [`ReportDir`] builds a folder beside its target and swaps it in whole,
//!   so a report folder never mixes two runs.
//! - Every I/O error names the file it happened on.
//!
//! [`encode`] holds the one encoder per context untrusted text lands in.

pub mod encode;

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The name given for standard input and output.
pub const STDIO: &str = "-";

/// A path as given by the user, with the option that named it.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub option: &'a str,
    pub path: &'a Path,
}

/// `(option, path)` shorthand for [`claim`].
pub fn named<'a>(option: &'a str, path: &'a Path) -> Named<'a> {
    Named { option, path }
}

/// A path resolved to where it really is: the canonical path (the parent's,
/// plus the name, for a file that does not exist yet) and, for an existing
/// file, its device and inode (so hard links compare equal too).
#[derive(Debug)]
struct Resolved {
    canonical: PathBuf,
    identity: Option<(u64, u64)>,
}

fn resolve(path: &Path) -> Result<Resolved> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot resolve the path {}", path.display()))?;
    if let Ok(canonical) = std::fs::canonicalize(&absolute) {
        let identity = std::fs::metadata(&canonical).ok().map(|m| identity_of(&m));
        return Ok(Resolved {
            canonical,
            identity,
        });
    }
    // Not there yet: resolve the nearest existing ancestor and keep the rest.
    let mut rest = Vec::new();
    let mut cur = absolute.as_path();
    loop {
        match (cur.file_name(), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                cur = parent;
                if let Ok(c) = std::fs::canonicalize(cur) {
                    let mut canonical = c;
                    for part in rest.iter().rev() {
                        canonical.push(part);
                    }
                    return Ok(Resolved {
                        canonical,
                        identity: None,
                    });
                }
            }
            _ => {
                return Ok(Resolved {
                    canonical: absolute.clone(),
                    identity: None,
                })
            }
        }
    }
}

#[cfg(unix)]
fn identity_of(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn identity_of(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn same(a: &Resolved, b: &Resolved) -> bool {
    a.canonical == b.canonical || (a.identity.is_some() && a.identity == b.identity)
}

/// Checks that no output overlaps an input or another output, then locks
/// every output for the rest of the run. Nothing is created or truncated
/// before this passes. `folders` are outputs that are whole folders (a
/// report): an input or output inside one overlaps it too. `-` (standard
/// input or output) never overlaps.
pub fn claim(inputs: &[Named], outputs: &[Named], folders: &[Named]) -> Result<()> {
    let resolve_all = |list: &[Named]| -> Result<Vec<(String, String, Resolved)>> {
        list.iter()
            .filter(|n| n.path != Path::new(STDIO))
            .map(|n| {
                Ok((
                    n.option.to_string(),
                    n.path.display().to_string(),
                    resolve(n.path)?,
                ))
            })
            .collect()
    };
    let ins = resolve_all(inputs)?;
    let outs = resolve_all(outputs)?;
    let dirs = resolve_all(folders)?;
    let all_outs: Vec<&(String, String, Resolved)> = outs.iter().chain(dirs.iter()).collect();
    for (i, (opt, shown, r)) in all_outs.iter().enumerate() {
        for (in_opt, in_shown, input) in &ins {
            if same(r, input) {
                bail!(
                    "{opt} {shown} is also an input ({in_opt} {in_shown}); refusing to overwrite an input: choose another output path"
                );
            }
        }
        for (other_opt, other_shown, other) in all_outs.iter().skip(i + 1) {
            if same(r, other) {
                bail!(
                    "{opt} {shown} and {other_opt} {other_shown} are the same file; expected a separate path for each output"
                );
            }
        }
    }
    for (opt, shown, dir) in &dirs {
        for (in_opt, in_shown, input) in &ins {
            if input.canonical.starts_with(&dir.canonical) {
                bail!(
                    "{opt} {shown} holds an input ({in_opt} {in_shown}); the folder is replaced whole, so choose an output folder that holds no input"
                );
            }
        }
        for (o_opt, o_shown, o) in &outs {
            if o.canonical.starts_with(&dir.canonical) {
                bail!(
                    "{o_opt} {o_shown} is inside {opt} {shown}, which is replaced whole; expected a path outside it"
                );
            }
        }
    }
    for (opt, shown, r) in &all_outs {
        if r.canonical.is_dir() && !dirs.iter().any(|(_, _, d)| same(d, r)) {
            bail!("{opt} {shown} is a folder; expected a file path");
        }
    }
    for (_, shown, d) in &dirs {
        // A report folder may be new, parents and all (its lock sits beside it).
        if let Some(parent) = d.canonical.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder for {shown}"))?;
        }
    }
    for (_, _, r) in all_outs {
        lock(&r.canonical)?;
    }
    Ok(())
}

/// Locks held by this process: target path → the open lock file.
fn locks() -> &'static Mutex<HashMap<PathBuf, File>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, File>>> = OnceLock::new();
    LOCKS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Paths a run is writing that an interrupted run must not leave behind:
/// its temporary files beside outputs, report folders being built, and
/// scratch folders holding staged customer data.
fn in_progress() -> &'static Mutex<Vec<PathBuf>> {
    static IN_PROGRESS: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    IN_PROGRESS.get_or_init(|| Mutex::new(Vec::new()))
}

fn track(path: &Path) {
    in_progress()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_path_buf());
}

fn untrack(path: &Path) {
    in_progress()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| p != path);
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C, a scheduler's stop, a closed
/// terminal), removes what the run was writing ([`Scratch`] folders,
/// temporary files beside outputs, report folders being built) and exits
/// with 128 + the signal's number, as a shell reports it. Outputs already
/// in place are never touched: each is renamed into place whole. Call once,
/// first thing; a kill that cannot be caught (SIGKILL) still leaves every
/// output whole, with hidden temporary files that the next run replaces.
pub fn clean_up_on_interrupt() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot watch for interruptions")?;
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let paths = in_progress()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                for p in paths.iter().rev() {
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(p)
                    } else {
                        std::fs::remove_file(p)
                    };
                }
                std::process::exit(128 + signal);
            }
        })
        .context("cannot watch for interruptions")?;
    Ok(())
}

/// A private scratch folder (mode 0700: it holds customer data) in the
/// system's temporary folder (`TMPDIR`), removed when dropped or when the
/// run is interrupted ([`clean_up_on_interrupt`]). `what` names its use in
/// errors, which also name the temporary folder and say how to choose
/// another.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn new(what: &str) -> Result<Scratch> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(".cartlift-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| {
                anyhow::anyhow!(
                    "no temporary folder for {what} in {} ({}); set TMPDIR to a writable folder with room",
                    std::env::temp_dir().display(),
                    e.kind()
                )
            })?;
        track(dir.path());
        Ok(Scratch { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until dropped").path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            untrack(dir.path());
            drop(dir);
        }
    }
}

/// Folders being built by a [`ReportDir`]: files inside are written
/// directly (the folder is swapped in whole), with no lock or temporary file.
fn staging() -> &'static Mutex<Vec<PathBuf>> {
    static STAGING: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    STAGING.get_or_init(|| Mutex::new(Vec::new()))
}

/// The lock file of a target: hidden, beside it, kept (removing it would
/// let a third run lock a new file while a second still holds the old).
pub fn lock_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    target.with_file_name(format!(".{name}.cartlift-lock"))
}

/// Takes the advisory lock on `target` for the rest of the run (a no-op
/// when this run holds it already). Another run holding it is an error.
fn lock(target: &Path) -> Result<()> {
    let mut held = locks().lock().unwrap_or_else(|e| e.into_inner());
    if held.contains_key(target) {
        return Ok(());
    }
    let path = lock_path(target);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot write {}: cannot create its lock file {}",
                target.display(),
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "{} is being written by another cartlift run (lock {}); wait for it to finish or choose another output",
            target.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    held.insert(target.to_path_buf(), file);
    remove_stale_temporaries(target);
    Ok(())
}

/// Temporary files of earlier runs on `target` that were killed before
/// their rename (the lock is ours, so nobody is writing them).
fn remove_stale_temporaries(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let suffix = temp_suffix(&name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with('.') && n.ends_with(&suffix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Temporary files are `.RANDOM.cartlift-tmp.NAME`: hidden, and ending in
/// the target's own name, so writers that go by the extension still can.
fn temp_suffix(name: &str) -> String {
    format!(".cartlift-tmp.{name}")
}

/// Locks `target` and opens a temporary file beside it: (the target's
/// resolved path, its directory, the temporary file).
fn temp_beside(target: &Path) -> Result<(PathBuf, PathBuf, tempfile::NamedTempFile)> {
    let absolute = resolve(target)?.canonical;
    lock(&absolute)?;
    let dir = absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Created as any new file would be (0666 less the umask), or with the
    // mode of the file it replaces, not the temporary file's private 0600.
    let mode = std::fs::metadata(&absolute)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::Permissions::from_mode(0o666)
        });
    let tmp = tempfile::Builder::new()
        .prefix(".")
        .suffix(&temp_suffix(&name))
        .permissions(mode)
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create {} (in {})", target.display(), dir.display()))?;
    // Renamed into place on success (the path then names nothing), removed
    // on failure; removed by an interruption in between.
    track(tmp.path());
    Ok((absolute, dir, tmp))
}

/// Whether `target` is a temporary file this run is writing for another
/// output (a writer handed that path by [`write_path`]): written directly,
/// with no lock or temporary file of its own.
fn is_own_temporary(target: &Path) -> bool {
    in_progress()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|p| p == target)
}

fn in_staging(target: &Path) -> bool {
    let staged = staging().lock().unwrap_or_else(|e| e.into_inner());
    staged.iter().any(|d| target.starts_with(d))
}

/// Writes `target` whole or not at all: `fill` writes into a hidden
/// temporary file in the same directory, which is flushed, fsynced and
/// renamed over the target. On any error (or a kill) the target keeps its
/// previous content. Errors name the target.
pub fn write_file(target: &Path, fill: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let shown = target.display().to_string();
    if in_staging(target) || is_own_temporary(target) {
        let mut file = File::create(target).with_context(|| format!("cannot create {shown}"))?;
        fill(&mut file).with_context(|| format!("cannot write {shown}"))?;
        file.flush()
            .and_then(|_| file.sync_all())
            .with_context(|| format!("cannot write {shown}"))?;
        return Ok(());
    }
    let (absolute, dir, mut tmp) = temp_beside(target)?;
    fill(tmp.as_file_mut()).with_context(|| format!("cannot write {shown}"))?;
    tmp.as_file_mut()
        .flush()
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.persist(&absolute)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    sync_dir(&dir);
    Ok(())
}

/// [`write_file`] for a writer that takes a path: `fill` writes to a
/// hidden temporary path beside the target, which is fsynced and renamed
/// over the target only when `fill` succeeds.
pub fn write_path<T>(target: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let shown = target.display().to_string();
    if is_own_temporary(target) {
        return fill(target).with_context(|| format!("cannot write {shown}"));
    }
    let (absolute, dir, tmp) = temp_beside(target)?;
    let value = fill(tmp.path()).with_context(|| format!("cannot write {shown}"))?;
    File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.persist(&absolute)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    sync_dir(&dir);
    Ok(value)
}

/// [`write_file`] of bytes held in memory.
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    write_file(target, |f| Ok(f.write_all(bytes)?))
}

/// Makes a rename durable (best effort: not every file system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file written in parts (a batched table writer) and renamed into place
/// by [`PartialFile::commit`]; dropped without it, the target is untouched.
pub struct PartialFile {
    target: PathBuf,
    tmp: Option<Partial>,
}

enum Partial {
    /// Beside the target, renamed over it on commit.
    Temporary(tempfile::NamedTempFile),
    /// Inside a report folder being built: the file itself.
    Staged(File),
}

impl Partial {
    fn file(&self) -> &File {
        match self {
            Partial::Temporary(t) => t.as_file(),
            Partial::Staged(f) => f,
        }
    }
}

impl PartialFile {
    pub fn create(target: &Path) -> Result<PartialFile> {
        let shown = target.display().to_string();
        if in_staging(target) || is_own_temporary(target) {
            let file = File::create(target).with_context(|| format!("cannot create {shown}"))?;
            return Ok(PartialFile {
                target: target.to_path_buf(),
                tmp: Some(Partial::Staged(file)),
            });
        }
        let (absolute, _, tmp) = temp_beside(target)?;
        Ok(PartialFile {
            target: absolute,
            tmp: Some(Partial::Temporary(tmp)),
        })
    }

    /// A handle on the file being written (shares its position).
    pub fn handle(&self) -> Result<File> {
        let tmp = self.tmp.as_ref().expect("present until commit");
        tmp.file()
            .try_clone()
            .with_context(|| format!("cannot write {}", self.target.display()))
    }

    pub fn commit(mut self) -> Result<()> {
        let shown = self.target.display().to_string();
        let tmp = self.tmp.take().expect("present until commit");
        tmp.file()
            .sync_all()
            .with_context(|| format!("cannot write {shown}"))?;
        if let Partial::Temporary(tmp) = tmp {
            tmp.persist(&self.target)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot write {shown}"))?;
            if let Some(dir) = self.target.parent() {
                sync_dir(dir);
            }
        }
        Ok(())
    }
}

/// The marker that tells a folder is a cartlift report (so a rerun may
/// replace it). Any other non-empty folder is never replaced.
pub const REPORT_MARKER: &str = ".cartlift-report";

/// A report folder under construction: built in a hidden sibling folder and
/// swapped in whole by [`ReportDir::commit`]. Dropped without it (an error),
/// the sibling is removed and the previous report stays as it was.
pub struct ReportDir {
    target: PathBuf,
    shown: String,
    stage: Option<tempfile::TempDir>,
}

impl ReportDir {
    /// Starts a folder that will replace `target` (the option is named in errors).
    pub fn create(option: &str, target: &Path) -> Result<ReportDir> {
        let shown = target.display().to_string();
        if target.exists() {
            check_replaceable(option, target)?;
        }
        let absolute = resolve(target)?.canonical;
        let parent = absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        lock(&absolute)?;
        let name = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        remove_stale(&parent, &name);
        // As a new folder would be (0777 less the umask), not the private
        // 0700 of a temporary one.
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::Permissions::from_mode(0o777)
        };
        let stage = tempfile::Builder::new()
            .prefix(&format!(".{name}.cartlift-staging-"))
            .permissions(mode)
            .tempdir_in(&parent)
            .with_context(|| format!("cannot create a folder beside {shown}"))?;
        let marker = stage.path().join(REPORT_MARKER);
        std::fs::write(
            &marker,
            "a cartlift report folder; a rerun replaces it whole\n",
        )
        .with_context(|| format!("cannot write {}", marker.display()))?;
        staging()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stage.path().to_path_buf());
        track(stage.path());
        Ok(ReportDir {
            target: absolute,
            shown,
            stage: Some(stage),
        })
    }

    /// Where the folder's files are written until the swap.
    pub fn path(&self) -> &Path {
        self.stage.as_ref().expect("present until commit").path()
    }

    /// Swaps the finished folder in place of the target; the previous
    /// folder (if any) is removed after.
    pub fn commit(mut self) -> Result<()> {
        let stage = self.stage.take().expect("present until commit");
        let built = stage.keep();
        unstage(&built);
        sync_tree(&built);
        let parent = self.target.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = self
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if self.target.exists() && exchange(&built, &self.target) {
            // `built` now holds the previous report.
            sync_dir(&parent);
            std::fs::remove_dir_all(&built).with_context(|| {
                format!("cannot remove the previous report {}", built.display())
            })?;
            return Ok(());
        }
        let old = if self.target.exists() {
            let old = parent.join(format!(".{name}.cartlift-old-{}", std::process::id()));
            std::fs::rename(&self.target, &old)
                .with_context(|| format!("cannot replace {}", self.shown))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&built, &self.target) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.target);
            }
            let _ = std::fs::remove_dir_all(&built);
            return Err(e).with_context(|| format!("cannot write {}", self.shown));
        }
        sync_dir(&parent);
        if let Some(old) = old {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove the previous report {}", old.display()))?;
        }
        Ok(())
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        if let Some(stage) = &self.stage {
            unstage(stage.path());
        }
    }
}

/// Swaps two paths in one step where the system can (Linux), so the
/// target is never missing; `false` where it cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> bool {
    false
}

fn unstage(dir: &Path) {
    staging()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|d| d != dir);
}

/// A folder may be replaced when it is empty or an earlier report.
fn check_replaceable(option: &str, target: &Path) -> Result<()> {
    let shown = target.display();
    if !target.is_dir() {
        bail!("{option} {shown} exists and is not a folder; expected a folder for the report");
    }
    let mut entries = std::fs::read_dir(target).with_context(|| format!("cannot read {shown}"))?;
    if entries.next().is_none() || target.join(REPORT_MARKER).is_file() {
        return Ok(());
    }
    bail!(
        "{option} {shown} is a folder that holds other files and is not a cartlift report; a report replaces its folder whole, so choose a new or empty folder"
    )
}

/// Leftovers of runs that were killed before their swap (this run holds
/// the lock, so no other run is building them).
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let staging = format!(".{name}.cartlift-staging-");
    let old = format!(".{name}.cartlift-old-");
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&staging) || n.starts_with(&old) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn sync_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                sync_tree(&p);
            }
        }
    }
    sync_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_output_that_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.csv");
        std::fs::write(&input, "x\n").unwrap();
        let again = dir.path().join(".").join("a.csv");
        let e = claim(&[named("input", &input)], &[named("--out", &again)], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--out") && e.contains("also an input"), "{e}");
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "x\n");
    }

    #[test]
    fn refuses_a_hard_link_and_two_equal_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.csv");
        std::fs::write(&input, "x\n").unwrap();
        let link = dir.path().join("b.csv");
        std::fs::hard_link(&input, &link).unwrap();
        assert!(claim(&[named("input", &input)], &[named("--out", &link)], &[]).is_err());
        let o = dir.path().join("o.parquet");
        let e = claim(&[], &[named("--out", &o), named("--touches", &o)], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--out") && e.contains("--touches"), "{e}");
    }

    #[test]
    fn refuses_an_input_inside_a_report_folder() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("rr");
        std::fs::create_dir(&report).unwrap();
        let input = report.join("quarantine.csv");
        std::fs::write(&input, "x\n").unwrap();
        let e = claim(&[named("input", &input)], &[], &[named("--out", &report)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds an input"), "{e}");
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.csv");
        write_bytes(&target, b"old\n").unwrap();
        let e = write_file(&target, |f| {
            f.write_all(b"half")?;
            bail!("disk full")
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("t.csv"), "{e:#}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".cartlift-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_report_folder_is_swapped_whole_and_never_a_foreign_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report");
        let r = ReportDir::create("--out", &target).unwrap();
        write_bytes(&r.path().join("index.html"), b"one").unwrap();
        r.commit().unwrap();
        let r = ReportDir::create("--out", &target).unwrap();
        write_bytes(&r.path().join("summary.json"), b"two").unwrap();
        drop(r);
        assert_eq!(std::fs::read(target.join("index.html")).unwrap(), b"one");
        assert!(!target.join("summary.json").exists());
        let r = ReportDir::create("--out", &target).unwrap();
        write_bytes(&r.path().join("summary.json"), b"three").unwrap();
        r.commit().unwrap();
        assert!(!target.join("index.html").exists());
        let foreign = dir.path().join("home");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("thesis.tex"), "x").unwrap();
        assert!(ReportDir::create("--out", &foreign).is_err());
        assert!(foreign.join("thesis.tex").exists());
    }
}
