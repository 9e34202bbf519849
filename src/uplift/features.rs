//! Covariates as a numeric matrix that both the outcome models and the
//! policy tree read: a numeric column is one feature; a text column is one
//! 0/1 indicator per value (`column == value`), the shape a flow's
//! conditional branch can express.

use anyhow::{bail, Result};
use polars::prelude::*;

/// At most this many distinct values in a text covariate: a flow branches
/// on a handful of categories, not on identifiers.
pub const MAX_CATEGORIES: usize = 64;

/// What one feature column means.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Feature {
    /// The column's value as a number.
    Numeric { column: String },
    /// 1 when the column equals `value`, else 0.
    Category { column: String, value: String },
}

impl Feature {
    /// `column` or `column=value`.
    pub fn name(&self) -> String {
        match self {
            Feature::Numeric { column } => column.clone(),
            Feature::Category { column, value } => format!("{column}={value}"),
        }
    }
}

/// Rows × features, column-major (`data[f * rows + i]`), all finite.
#[derive(Debug, Clone)]
pub struct Features {
    pub features: Vec<Feature>,
    pub rows: usize,
    pub data: Vec<f64>,
}

impl Features {
    /// Feature `f` over all rows.
    pub fn column(&self, f: usize) -> &[f64] {
        &self.data[f * self.rows..(f + 1) * self.rows]
    }

    pub fn get(&self, i: usize, f: usize) -> f64 {
        self.data[f * self.rows + i]
    }

    /// The same features over a subset of rows (in the order given).
    pub fn subset(&self, rows: &[usize]) -> Features {
        let mut data = Vec::with_capacity(rows.len() * self.features.len());
        for f in 0..self.features.len() {
            let col = self.column(f);
            data.extend(rows.iter().map(|&i| col[i]));
        }
        Features {
            features: self.features.clone(),
            rows: rows.len(),
            data,
        }
    }
}

/// Reads `columns` of `df` as features. A column whose every cell parses as
/// a finite number is numeric (an empty cell there is an error naming the
/// line); any other column is categorical, with at most
/// [`MAX_CATEGORIES`] values, one indicator each in sorted order.
pub fn read_features(df: &DataFrame, columns: &[String], source: &str) -> Result<Features> {
    let rows = df.height();
    let mut features = Vec::new();
    let mut data = Vec::new();
    for name in columns {
        let column = df.column(name).map_err(|_| {
            anyhow::anyhow!(
                "{source}: --covariates {name}: no such column; the columns are [{}]",
                df.get_column_names()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let text = column.cast(&DataType::String)?;
        let text = text.str()?;
        let cells: Vec<Option<&str>> = text.iter().collect();
        let parsed: Vec<Option<f64>> = cells
            .iter()
            .map(|c| c.and_then(|v| v.trim().parse::<f64>().ok()))
            .collect();
        let numeric_cells = parsed.iter().filter(|p| p.is_some()).count();
        let empty = |c: &Option<&str>| c.is_none_or(|v| v.trim().is_empty());
        let non_empty = cells.iter().filter(|c| !empty(c)).count();
        if non_empty > 0 && numeric_cells == non_empty {
            for (i, (p, c)) in parsed.iter().zip(&cells).enumerate() {
                match p {
                    Some(x) if x.is_finite() && x.abs() <= crate::validate::MAX_AMOUNT => {
                        data.push(*x)
                    }
                    Some(x) => bail!(
                        "{source}: line {}: covariate `{name}` has {}; expected a finite number of at most {:e} in size",
                        i + 2,
                        crate::validate::shown(*x),
                        crate::validate::MAX_AMOUNT
                    ),
                    None => bail!(
                        "{source}: line {}: covariate `{name}` is empty ({:?}); expected a number like the column's other cells",
                        i + 2,
                        c.unwrap_or("")
                    ),
                }
            }
            features.push(Feature::Numeric {
                column: name.clone(),
            });
            continue;
        }
        let mut values: Vec<&str> = cells.iter().map(|c| c.unwrap_or("").trim()).collect();
        values.sort_unstable();
        values.dedup();
        if values.len() > MAX_CATEGORIES {
            bail!(
                "{source}: covariate `{name}` has {} distinct values and is not numeric; expected a number or at most {MAX_CATEGORIES} categories",
                values.len()
            );
        }
        for value in &values {
            data.extend(
                cells
                    .iter()
                    .map(|c| f64::from(u8::from(c.unwrap_or("").trim() == *value))),
            );
            features.push(Feature::Category {
                column: name.clone(),
                value: value.to_string(),
            });
        }
    }
    Ok(Features {
        features,
        rows,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_categorical_columns() {
        let df = df!(
            "x" => ["1.5", "2", "-3"],
            "c" => ["b", "a", "b"],
        )
        .unwrap();
        let f = read_features(&df, &["x".into(), "c".into()], "t.csv").unwrap();
        assert_eq!(f.features.len(), 3);
        assert_eq!(f.column(0), &[1.5, 2.0, -3.0]);
        assert_eq!(f.features[1].name(), "c=a");
        assert_eq!(f.column(1), &[0.0, 1.0, 0.0]);
        assert_eq!(f.column(2), &[1.0, 0.0, 1.0]);
        assert_eq!(f.subset(&[2, 0]).column(0), &[-3.0, 1.5]);
    }

    #[test]
    fn empty_numeric_cell_names_the_line() {
        let df = df!("x" => ["1", "", "3"]).unwrap();
        let e = read_features(&df, &["x".into()], "t.csv").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = read_features(&df, &["nope".into()], "t.csv").unwrap_err();
        assert!(e.to_string().contains("no such column"), "{e}");
    }
}
