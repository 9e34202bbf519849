//! The profile-property CSV Klaviyo imports to hold customers out:
//! `Email,cartlift_arm`, one row per profile, the arm from the published
//! bucket hash (`assign`). A profile without a usable e-mail address is
//! skipped and reported with its line and reason; nothing is dropped quietly.

use crate::assign::Assigner;
use crate::config::FlowConfig;
use crate::events::identity::normalize;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// Header names (any case) taken as the e-mail column.
const EMAIL_COLUMNS: [&str; 4] = ["email", "$email", "e-mail", "email address"];

/// What `write_profiles` did.
#[derive(Debug, Clone, Default)]
pub struct ProfileExport {
    /// Profiles written.
    pub written: usize,
    /// Profiles per arm, in the flow file's arm order.
    pub per_arm: Vec<(String, usize)>,
    /// `(line, reason)` of every row not written (line 1 is the header).
    pub skipped: Vec<(u64, String)>,
    /// Rows repeating an e-mail already written with the same arm.
    pub duplicates: usize,
    /// What the arm was hashed from, in words (a column, or the e-mail address).
    pub key_column: String,
}

/// Reads a profile CSV (a column named `Email`, any case; Klaviyo's profile
/// export has one) and writes `Email,cartlift_arm`. The arm is the hash of
/// `key_column` when given; else of a `customer_id` or `External ID` column
/// where the row has one, else of the e-mail address (trimmed, lower-cased),
/// as `ingest --customer-key id` keys customers: use the key the events'
/// `customer_id` carries. Errors name the file and the column.
pub fn write_profiles<R: Read, W: Write>(
    config: &FlowConfig,
    input: R,
    source: &str,
    key_column: Option<&str>,
    out: W,
) -> Result<ProfileExport> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader
        .headers()
        .with_context(|| format!("{source}: cannot read the CSV header"))?
        .clone();
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let find = |want: &str| names.iter().position(|h| h.eq_ignore_ascii_case(want));
    let email_col = EMAIL_COLUMNS.iter().find_map(|c| find(c)).ok_or_else(|| {
        anyhow::anyhow!(
            "{source}: no e-mail column; expected a column named `Email` (the columns are [{}])",
            names.join(", ")
        )
    })?;
    // An explicit column is the key, row by row; by default the shop's
    // customer id where the row has one (as `ingest --customer-key id` keys
    // customers), else the e-mail address.
    let (key_col, fallback) = match key_column {
        Some(k) => (
            Some(find(k).ok_or_else(|| {
                anyhow::anyhow!(
                    "{source}: no column `{k}` to hash the arm from (the columns are [{}])",
                    names.join(", ")
                )
            })?),
            false,
        ),
        None => (
            names.iter().position(|h| {
                let k: String = h
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                k == "customerid" || k == "externalid"
            }),
            true,
        ),
    };
    for arm in &config.arms {
        if crate::output::encode::csv_cell(&arm.name) != arm.name.as_str() {
            bail!(
                "arm `{}` begins with a character spreadsheets read as a formula; rename the arm to export it as a Klaviyo profile property",
                arm.name
            );
        }
    }
    let assigner = Assigner::new(config);
    let mut counts = vec![0usize; config.arms.len()];
    let mut seen: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    let mut report = ProfileExport {
        key_column: match (key_col, fallback) {
            (Some(i), true) => format!("`{}` (the e-mail address where empty)", names[i]),
            (Some(i), false) => format!("`{}`", names[i]),
            (None, _) => "the e-mail address".into(),
        },
        ..Default::default()
    };
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["Email", super::ARM_PROPERTY])?;
    for (i, row) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                report.skipped.push((line, format!("unreadable row: {e}")));
                continue;
            }
        };
        if row.len() != names.len() {
            report.skipped.push((
                line,
                format!(
                    "{} fields, expected {} as in the header",
                    row.len(),
                    names.len()
                ),
            ));
            continue;
        }
        let email = normalize(row.get(email_col).unwrap_or(""));
        if let Err(reason) = check_email(&email) {
            report.skipped.push((line, reason));
            continue;
        }
        let key = match key_col {
            Some(k) => normalize(row.get(k).unwrap_or("")),
            None => email.clone(),
        };
        let key = if key.is_empty() && fallback {
            email.clone()
        } else {
            key
        };
        if key.is_empty() {
            report
                .skipped
                .push((line, format!("empty {}", report.key_column)));
            continue;
        }
        let (_, arm) = assigner.assign(&key);
        if let Some(&(first, prev)) = seen.get(&email) {
            if prev == arm {
                report.duplicates += 1;
            } else {
                report.skipped.push((
                    line,
                    format!(
                        "`{email}` is also on line {first} with arm `{}`; this row's key gives `{}`",
                        assigner.arm_name(prev),
                        assigner.arm_name(arm)
                    ),
                ));
            }
            continue;
        }
        seen.insert(email.clone(), (line, arm));
        w.write_record([email.as_str(), assigner.arm_name(arm)])?;
        counts[arm] += 1;
        report.written += 1;
    }
    w.flush()?;
    report.per_arm = config
        .arms
        .iter()
        .zip(counts)
        .map(|(a, n)| (a.name.clone(), n))
        .collect();
    if report.written == 0 {
        let why = report
            .skipped
            .first()
            .map(|(l, r)| format!(" (line {l}: {r})"))
            .unwrap_or_default();
        bail!("{source}: no profile with a usable e-mail address{why}");
    }
    Ok(report)
}

/// A plausible e-mail address, safe in a CSV cell: one `@` between a local
/// part and a dotted domain, no spaces or control characters, and no leading
/// character a spreadsheet reads as a formula.
fn check_email(e: &str) -> std::result::Result<(), String> {
    if e.is_empty() {
        return Err("no e-mail address".into());
    }
    if let Some(c) = e.chars().next().filter(|c| "=+-@\t\r".contains(*c)) {
        return Err(format!(
            "the e-mail address begins with `{}`, which spreadsheets read as a formula",
            c.escape_default()
        ));
    }
    let shown = e.escape_default().to_string();
    if e.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '"')
    {
        return Err(format!(
            "`{shown}` is not an e-mail address (spaces, commas, quotes or control characters)"
        ));
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{shown}` is not an e-mail address (expected name@domain.tld)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SAMPLE;

    #[test]
    fn arms_follow_the_published_hash_and_bad_rows_are_reported() {
        let config = FlowConfig::parse(SAMPLE).unwrap();
        let input = "Email,First Name\n Alice@Example.com ,Alice\n,NoMail\n=cmd@x.com,Eve\nbob@example.com,Bob\nalice@example.com,Again\nnot-an-address,X\n";
        let mut out = Vec::new();
        let r = write_profiles(&config, input.as_bytes(), "p.csv", None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let a = Assigner::new(&config);
        let arm = |id: &str| a.arm_name(a.assign(id).1).to_string();
        assert_eq!(
            text,
            format!(
                "Email,cartlift_arm\nalice@example.com,{}\nbob@example.com,{}\n",
                arm("alice@example.com"),
                arm("bob@example.com")
            )
        );
        // alice@example.com is bucket 5379 in the README's test vectors: the `flow` arm.
        assert_eq!(arm("alice@example.com"), "flow");
        assert_eq!(r.written, 2);
        assert_eq!(r.duplicates, 1);
        let lines: Vec<u64> = r.skipped.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4, 7]);
        assert!(r.skipped[0].1.contains("no e-mail"), "{:?}", r.skipped);
        assert!(r.skipped[1].1.contains("formula"), "{:?}", r.skipped);
    }

    #[test]
    fn the_shops_customer_id_is_the_key_where_the_row_has_one() {
        let config = FlowConfig::parse(SAMPLE).unwrap();
        let a = Assigner::new(&config);
        let arm = |id: &str| a.arm_name(a.assign(id).1).to_string();
        // An empty customer id falls back to the address.
        let input = "Email,External ID\nx1@example.com,c000001\nx2@example.com,\n";
        let mut out = Vec::new();
        let r = write_profiles(&config, input.as_bytes(), "p.csv", None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "Email,cartlift_arm\nx1@example.com,{}\nx2@example.com,{}\n",
                arm("c000001"),
                arm("x2@example.com")
            )
        );
        assert!(r.key_column.contains("External ID"), "{}", r.key_column);
        // A held-out customer id holds the profile out, whatever its address.
        let holdout_ids: Vec<String> = (0..200)
            .map(|i| format!("h{i}"))
            .filter(|id| arm(id) == "holdout")
            .collect();
        let input = format!("email,customer_id\nx3@example.com,{}\n", holdout_ids[0]);
        let mut out = Vec::new();
        write_profiles(&config, input.as_bytes(), "p.csv", None, &mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("x3@example.com,holdout\n"));
    }

    #[test]
    fn a_file_without_an_email_column_is_an_error_naming_it() {
        let config = FlowConfig::parse(SAMPLE).unwrap();
        let e = write_profiles(
            &config,
            "id,name\n1,a\n".as_bytes(),
            "p.csv",
            None,
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.csv") && e.contains("Email") && e.contains("id, name"),
            "{e}"
        );
    }
}
