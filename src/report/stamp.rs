//! The reproducibility stamp: what produced a report, so that the same
//! inputs can be shown to give the same numbers again.
//!
//! No clock time goes in: the same inputs give the same bytes.

use crate::config::FlowConfig;
use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub cartlift_version: &'static str,
    /// SHA-256 (hex) of the flow configuration text.
    pub flow_sha256: String,
    /// Which text was hashed.
    pub flow_text: FlowText,
    /// SHA-256 of each input file, in the order given.
    pub inputs: Vec<InputDigest>,
    /// `[simulation] seed` of the flow config; `None` when it has none.
    pub seed: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowText {
    /// The configuration file exactly as written.
    File,
    /// cartlift's own TOML of the parsed configuration (comments and layout
    /// dropped), used when the caller did not hand over the file's text.
    Normalized,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputDigest {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The stamp for a job; `config_text` is the flow file as written, when known.
pub fn stamp(inputs: &[PathBuf], config: &FlowConfig, config_text: Option<&str>) -> Result<Stamp> {
    let (text, flow_text) = match config_text {
        Some(t) => (t.to_string(), FlowText::File),
        None => (config.to_toml()?, FlowText::Normalized),
    };
    Ok(Stamp {
        cartlift_version: env!("CARGO_PKG_VERSION"),
        flow_sha256: hex(&Sha256::digest(text.as_bytes())),
        flow_text,
        inputs: inputs
            .iter()
            .map(|p| digest_file(p))
            .collect::<Result<_>>()?,
        seed: seed(config),
    })
}

fn seed(config: &FlowConfig) -> Option<i64> {
    config
        .simulation
        .as_ref()?
        .get("seed")
        .and_then(toml::Value::as_integer)
}

fn digest_file(path: &Path) -> Result<InputDigest> {
    let mut file = crate::events::source::open(path)
        .with_context(|| format!("cannot open {} to stamp the report", path.display()))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {} to stamp the report", path.display()))?;
    Ok(InputDigest {
        path: path.display().to_string(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_the_empty_digest() {
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn seed_comes_from_the_simulation_table() {
        let mut config = FlowConfig::parse(crate::report::SAMPLE_FLOW).expect("sample");
        assert_eq!(seed(&config), None);
        let mut table = toml::Table::new();
        table.insert("seed".into(), toml::Value::Integer(7));
        config.simulation = Some(table);
        assert_eq!(seed(&config), Some(7));
    }
}
