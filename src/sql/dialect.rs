//! What differs between the four SQL engines: types, literals, the bucket
//! hash, epoch microseconds, NaN, "last non-null value" windows, ordered
//! string aggregation, temporary tables and how a Parquet path is read.
//! Everything else the generator writes is common SQL (window functions,
//! `WITH RECURSIVE`, `RANGE` frames with numeric offsets, `IS NOT DISTINCT
//! FROM`), accepted by all four.

/// The engine the SQL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Apache Spark SQL (3.5 or later: `_metadata.row_index`; checked on 4.3).
    Spark,
    /// DuckDB.
    Duckdb,
    /// Google BigQuery (GoogleSQL).
    Bigquery,
    /// Snowflake.
    Snowflake,
}

impl Dialect {
    pub const ALL: [Dialect; 4] = [
        Dialect::Spark,
        Dialect::Duckdb,
        Dialect::Bigquery,
        Dialect::Snowflake,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Duckdb => "duckdb",
            Dialect::Bigquery => "bigquery",
            Dialect::Snowflake => "snowflake",
        }
    }

    pub fn double(self) -> &'static str {
        match self {
            Dialect::Bigquery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    pub fn string(self) -> &'static str {
        match self {
            Dialect::Duckdb | Dialect::Snowflake => "VARCHAR",
            Dialect::Spark | Dialect::Bigquery => "STRING",
        }
    }

    pub fn int(self) -> &'static str {
        match self {
            Dialect::Bigquery => "INT64",
            _ => "BIGINT",
        }
    }

    /// A string literal. DuckDB doubles quotes; Snowflake doubles quotes and
    /// treats backslash as an escape; Spark and BigQuery escape both with a
    /// backslash (in Spark `'a''b'` would be two adjacent literals).
    pub fn str_lit(self, s: &str) -> String {
        let body = match self {
            Dialect::Duckdb => s.replace('\'', "''"),
            Dialect::Snowflake => s.replace('\\', "\\\\").replace('\'', "''"),
            Dialect::Spark | Dialect::Bigquery => s.replace('\\', "\\\\").replace('\'', "\\'"),
        };
        format!("'{body}'")
    }

    /// A double literal with the exact value of `x` (shortest round-trip
    /// decimal, cast: a bare `0.45` is a DECIMAL in DuckDB, Spark and
    /// Snowflake).
    pub fn f64_lit(self, x: f64) -> String {
        format!("CAST({x:?} AS {})", self.double())
    }

    /// `ts` (a TIMESTAMP) as microseconds since the Unix epoch, UTC.
    pub fn epoch_us(self, ts: &str) -> String {
        match self {
            Dialect::Duckdb => format!("epoch_us({ts})"),
            // A timestamp without time zone is read in the session time
            // zone: run Spark with spark.sql.session.timeZone=UTC.
            Dialect::Spark => format!("unix_micros(CAST({ts} AS TIMESTAMP))"),
            Dialect::Bigquery => format!("UNIX_MICROS({ts})"),
            Dialect::Snowflake => format!("DATE_PART(EPOCH_MICROSECOND, {ts})"),
        }
    }

    /// The published bucket: the first 4 bytes of SHA-256(salt ‖ id), big
    /// endian, modulo 10 000 (src/assign.rs). Each engine has SHA-256; they
    /// differ in whether it returns hex text or bytes and in how 8 hex
    /// digits become an integer.
    pub fn bucket(self, salt: &str, id: &str) -> String {
        let input = format!("{} || {id}", self.str_lit(salt));
        let m = crate::assign::BUCKETS;
        match self {
            Dialect::Duckdb => {
                format!(
                    "CAST(CAST('0x' || substr(sha256({input}), 1, 8) AS UBIGINT) % {m} AS BIGINT)"
                )
            }
            Dialect::Spark => {
                format!("CAST(conv(substr(sha2({input}, 256), 1, 8), 16, 10) AS BIGINT) % {m}")
            }
            Dialect::Bigquery => {
                format!(
                    "MOD(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256({input})), 1, 8)) AS INT64), {m})"
                )
            }
            Dialect::Snowflake => {
                format!("MOD(TO_NUMBER(SUBSTR(SHA2({input}, 256), 1, 8), 'XXXXXXXX'), {m})")
            }
        }
    }

    /// `a mod b` for non-negative integers.
    pub fn modulo(self, a: &str, b: u32) -> String {
        match self {
            Dialect::Bigquery | Dialect::Snowflake => format!("MOD({a}, {b})"),
            Dialect::Duckdb | Dialect::Spark => format!("({a}) % {b}"),
        }
    }

    /// `x` as a DOUBLE with NaN turned into NULL (cartlift reads NaN as absent).
    pub fn nan_to_null(self, x: &str) -> String {
        let d = format!("CAST({x} AS {})", self.double());
        let test = match self {
            Dialect::Duckdb => format!("isnan({d})"),
            Dialect::Spark => format!("isnan({d})"),
            Dialect::Bigquery => format!("IS_NAN({d})"),
            Dialect::Snowflake => format!("{d} = CAST('NaN' AS DOUBLE)"),
        };
        format!("CASE WHEN {test} THEN NULL ELSE {d} END")
    }

    /// The last non-null value of `x` in a window (`over` is the inside of OVER).
    pub fn last_non_null(self, x: &str, over: &str) -> String {
        match self {
            Dialect::Duckdb | Dialect::Bigquery => {
                format!("LAST_VALUE({x} IGNORE NULLS) OVER ({over})")
            }
            Dialect::Spark => format!("last_value({x}, true) OVER ({over})"),
            Dialect::Snowflake => format!("LAST_VALUE({x}) IGNORE NULLS OVER ({over})"),
        }
    }

    /// `name` values joined by `sep`, ordered by `order` (a comma list of
    /// columns, each ascending), as one aggregate.
    pub fn string_agg(self, name: &str, sep: &str, order: &[&str]) -> String {
        let sep = self.str_lit(sep);
        let by = order.join(", ");
        match self {
            Dialect::Duckdb | Dialect::Bigquery => {
                format!("STRING_AGG({name}, {sep} ORDER BY {by})")
            }
            Dialect::Snowflake => format!("LISTAGG({name}, {sep}) WITHIN GROUP (ORDER BY {by})"),
            // Sorting an array of structs orders by their fields in turn.
            Dialect::Spark => {
                let fields: Vec<String> = order
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("'o{i}', {c}"))
                    .collect();
                format!(
                    "array_join(transform(array_sort(collect_list(named_struct({}, 'n', {name}))), x -> x.n), {sep})",
                    fields.join(", ")
                )
            }
        }
    }

    /// Statements that materialize `query` as the table `name` (session-local
    /// except in Spark).
    pub fn temp_table(self, name: &str, query: &str) -> Vec<String> {
        match self {
            Dialect::Duckdb => vec![format!("CREATE OR REPLACE TEMP TABLE {name} AS\n{query}")],
            // Spark has no temporary tables, and a cached view is found
            // again only by matching plans, which a plan with a lambda
            // never does: a table in the current database, written once.
            Dialect::Spark => vec![
                format!("DROP TABLE IF EXISTS {name}"),
                format!("CREATE TABLE {name} USING parquet AS\n{query}"),
            ],
            Dialect::Bigquery => vec![format!("CREATE OR REPLACE TEMP TABLE {name} AS\n{query}")],
            Dialect::Snowflake => {
                vec![format!(
                    "CREATE OR REPLACE TEMPORARY TABLE {name} AS\n{query}"
                )]
            }
        }
    }

    /// Statements that name `query` as `name` without materializing it
    /// (BigQuery scripts have no temporary views: a temporary table).
    pub fn temp_view(self, name: &str, query: &str) -> Vec<String> {
        match self {
            Dialect::Duckdb => vec![format!("CREATE OR REPLACE TEMP VIEW {name} AS\n{query}")],
            Dialect::Spark => vec![format!(
                "CREATE OR REPLACE TEMPORARY VIEW {name} AS\n{query}"
            )],
            Dialect::Bigquery => vec![format!("CREATE OR REPLACE TEMP TABLE {name} AS\n{query}")],
            Dialect::Snowflake => vec![format!(
                "CREATE OR REPLACE TEMPORARY VIEW {name} AS\n{query}"
            )],
        }
    }

    /// Where a Parquet path can be read directly: the FROM item and the
    /// expressions of the file and row position (cartlift's tie-break for
    /// events of one customer with the same timestamp and event).
    pub fn parquet_source(self, path: &str) -> Option<ParquetSource> {
        match self {
            Dialect::Duckdb => Some(ParquetSource {
                from: format!(
                    "read_parquet({}, filename = true, file_row_number = true)",
                    self.str_lit(path)
                ),
                file: "filename".into(),
                row: "file_row_number".into(),
            }),
            Dialect::Spark => Some(ParquetSource {
                from: format!("parquet.`{}`", path.replace('`', "``")),
                file: "_metadata.file_path".into(),
                row: "_metadata.row_index".into(),
            }),
            Dialect::Bigquery | Dialect::Snowflake => None,
        }
    }
}

/// A Parquet file (or glob) read in place.
pub struct ParquetSource {
    pub from: String,
    pub file: String,
    pub row: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_per_dialect() {
        assert_eq!(Dialect::Duckdb.str_lit("it's"), "'it''s'");
        assert_eq!(Dialect::Spark.str_lit("it's \\"), "'it\\'s \\\\'");
        assert_eq!(Dialect::Bigquery.str_lit("a'b"), "'a\\'b'");
        assert_eq!(Dialect::Snowflake.str_lit("a'b\\"), "'a''b\\\\'");
    }

    #[test]
    fn doubles_keep_their_exact_value() {
        assert_eq!(Dialect::Duckdb.f64_lit(0.45), "CAST(0.45 AS DOUBLE)");
        assert_eq!(Dialect::Bigquery.f64_lit(6.0), "CAST(6.0 AS FLOAT64)");
        assert_eq!(Dialect::Spark.f64_lit(0.002), "CAST(0.002 AS DOUBLE)");
    }
}
