//! cartlift: analytics and experimentation for abandoned-cart recovery flows.
//!
//! The pipeline: `events` (read, map, validate, quarantine) → `flow`
//! (reconstruct entries and touches, audit) → analyses. `config` is the flow
//! file, `assign` the deterministic holdout split, `simulate` the generative
//! model with ground truth. See ARCHITECTURE.md.

pub mod assign;
pub mod attribution;
pub mod branch;
pub mod config;
pub mod duration;
pub mod events;
pub mod flow;
pub mod klaviyo_flow;
pub mod lift;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod progress;
pub mod report;
pub mod schema;
pub mod simulate;
pub mod sql;
pub mod stats;
pub mod uplift;
pub mod validate;
