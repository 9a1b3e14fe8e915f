//! Copies a whole installation from one store to another (typically SQLite to
//! PostgreSQL): every table, parents before children, in one transaction on
//! the target, with the row counts of both sides compared before it commits.
//!
//! Tables and columns are read from the catalogs, so tables added by later
//! migrations are copied without changes here. Both stores are migrated to the
//! same version first (opening a store does that).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Backend, Store, StoreError};

/// Rows copied into one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target is not empty: table {0} has rows; copy into a fresh database")]
    TargetNotEmpty(String),
    #[error("the stores differ: {0}")]
    SchemaMismatch(String),
    #[error("table {table}: {source_rows} rows in the source but {target_rows} in the target")]
    CountMismatch {
        table: String,
        source_rows: i64,
        target_rows: i64,
    },
}

impl From<sqlx::Error> for CopyError {
    fn from(error: sqlx::Error) -> Self {
        CopyError::Store(error.into())
    }
}

type CopyResult<T> = Result<T, CopyError>;

/// How a column's values are read and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
    Bytes,
}

/// A value on its way from one store to the other.
enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// Bind parameters per INSERT, well below both engines' limits.
const PARAMS_PER_INSERT: usize = 1000;

/// Copies every row of `from` into `to`, which must be empty.
pub async fn copy_store(from: &Store, to: &Store) -> CopyResult<Vec<TableCount>> {
    // A read snapshot of the source, and one transaction on the target.
    let mut source = from.write().await?;
    let mut target = to.write().await?;

    let tables = copy_order(source.conn(), target.conn()).await?;
    for table in &tables {
        if has_rows(target.conn(), table).await? {
            return Err(CopyError::TargetNotEmpty(table.clone()));
        }
    }

    let mut counts = Vec::new();
    for table in &tables {
        let columns = matching_columns(source.conn(), target.conn(), table).await?;
        copy_table(source.conn(), target.conn(), table, &columns).await?;
        let source_rows = count(source.conn(), table).await?;
        let target_rows = count(target.conn(), table).await?;
        if source_rows != target_rows {
            return Err(CopyError::CountMismatch {
                table: table.clone(),
                source_rows,
                target_rows,
            });
        }
        counts.push(TableCount {
            table: table.clone(),
            rows: target_rows,
        });
    }
    if Backend::of(target.conn()) == Backend::Postgres {
        for table in &tables {
            advance_sequences(target.conn(), table).await?;
        }
    }

    target.commit().await?;
    Ok(counts)
}

/// The tables of both stores, each after the tables it references.
async fn copy_order(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
) -> CopyResult<Vec<String>> {
    let tables = list_tables(source).await?;
    let target_tables = list_tables(target).await?;
    if tables != target_tables {
        return Err(CopyError::SchemaMismatch(format!(
            "source tables {tables:?}, target tables {target_tables:?}"
        )));
    }

    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for table in &tables {
        let refs = referenced_tables(source, table).await?;
        parents.insert(
            table.clone(),
            refs.into_iter().filter(|p| p != table).collect(),
        );
    }

    // Repeatedly take the tables whose parents are all placed.
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < tables.len() {
        let ready: Vec<String> = tables
            .iter()
            .filter(|t| !ordered.contains(t))
            .filter(|t| {
                parents[*t]
                    .iter()
                    .all(|p| ordered.contains(p) || !tables.contains(p))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(CopyError::SchemaMismatch(
                "foreign keys form a cycle between tables".to_string(),
            ));
        }
        ordered.extend(ready);
    }
    Ok(ordered)
}

async fn list_tables(conn: &mut AnyConnection) -> CopyResult<Vec<String>> {
    let sql = match Backend::of(conn) {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::TEXT FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> 'schema_migrations' ORDER BY table_name"
        }
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

async fn referenced_tables(conn: &mut AnyConnection, table: &str) -> CopyResult<Vec<String>> {
    let sql = match Backend::of(conn) {
        Backend::Sqlite => "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)",
        Backend::Postgres => {
            "SELECT DISTINCT parent.relname::TEXT FROM pg_constraint c \
             JOIN pg_class child ON child.oid = c.conrelid \
             JOIN pg_class parent ON parent.oid = c.confrelid \
             JOIN pg_namespace n ON n.oid = child.relnamespace \
             WHERE c.contype = 'f' AND n.nspname = current_schema() AND child.relname = $1"
        }
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql).bind(table).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// Column names and kinds, in table order.
async fn columns(conn: &mut AnyConnection, table: &str) -> CopyResult<Vec<(String, String)>> {
    let sql = match Backend::of(conn) {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    Ok(sqlx::query_as(sql).bind(table).fetch_all(conn).await?)
}

/// The source's columns, which the target must have too, with the kind the
/// target declares.
async fn matching_columns(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &str,
) -> CopyResult<Vec<(String, Kind)>> {
    let target_columns: BTreeMap<String, String> =
        columns(target, table).await?.into_iter().collect();
    let mut matched = Vec::new();
    for (name, _) in columns(source, table).await? {
        let Some(declared) = target_columns.get(&name) else {
            return Err(CopyError::SchemaMismatch(format!(
                "column {table}.{name} is missing in the target"
            )));
        };
        let kind = kind_of(declared).ok_or_else(|| {
            CopyError::SchemaMismatch(format!(
                "column {table}.{name} has unsupported type {declared}"
            ))
        })?;
        matched.push((name, kind));
    }
    Ok(matched)
}

fn kind_of(declared: &str) -> Option<Kind> {
    let declared = declared.to_ascii_uppercase();
    let has = |part: &str| declared.contains(part);
    if has("INT") {
        Some(Kind::Int)
    } else if has("CHAR") || has("TEXT") || has("CLOB") {
        Some(Kind::Text)
    } else if has("BLOB") || has("BYTEA") {
        Some(Kind::Bytes)
    } else if has("REAL") || has("FLOA") || has("DOUB") || has("NUMERIC") {
        Some(Kind::Float)
    } else {
        None
    }
}

async fn copy_table(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &str,
    columns: &[(String, Kind)],
) -> CopyResult<()> {
    let names: Vec<String> = columns.iter().map(|(name, _)| quote(name)).collect();
    let select = format!("SELECT {} FROM {}", names.join(", "), quote(table));
    let rows_per_insert = (PARAMS_PER_INSERT / columns.len().max(1)).max(1);

    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(rows_per_insert);
    let mut rows = sqlx::query(&select).fetch(&mut *source);
    while let Some(row) = rows.try_next().await? {
        batch.push(read_row(&row, columns)?);
        if batch.len() == rows_per_insert {
            insert_batch(&mut *target, table, &names, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        insert_batch(target, table, &names, batch).await?;
    }
    Ok(())
}

fn read_row(row: &AnyRow, columns: &[(String, Kind)]) -> CopyResult<Vec<Value>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Float => Value::Float(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Bytes => Value::Bytes(row.try_get(i)?),
            })
        })
        .collect()
}

async fn insert_batch(
    target: &mut AnyConnection,
    table: &str,
    names: &[String],
    rows: Vec<Vec<Value>>,
) -> CopyResult<()> {
    let mut placeholders = Vec::with_capacity(rows.len());
    let mut n = 0;
    for _ in &rows {
        let row: Vec<String> = names
            .iter()
            .map(|_| {
                n += 1;
                format!("${n}")
            })
            .collect();
        placeholders.push(format!("({})", row.join(", ")));
    }
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote(table),
        names.join(", "),
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for value in rows.into_iter().flatten() {
        query = match value {
            Value::Int(v) => query.bind(v),
            Value::Float(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query.execute(target).await?;
    Ok(())
}

async fn has_rows(conn: &mut AnyConnection, table: &str) -> CopyResult<bool> {
    let sql = format!("SELECT 1 FROM {} LIMIT 1", quote(table));
    Ok(sqlx::query(&sql).fetch_optional(conn).await?.is_some())
}

async fn count(conn: &mut AnyConnection, table: &str) -> CopyResult<i64> {
    let sql = format!("SELECT COUNT(*) FROM {}", quote(table));
    let (rows,): (i64,) = sqlx::query_as(&sql).fetch_one(conn).await?;
    Ok(rows)
}

/// Copied rows keep their generated keys (`seq`), so PostgreSQL's sequences
/// must move past them before new rows are inserted.
async fn advance_sequences(conn: &mut AnyConnection, table: &str) -> CopyResult<()> {
    for (column, _) in columns(conn, table).await? {
        let sequence: Option<(Option<String>,)> =
            sqlx::query_as("SELECT pg_get_serial_sequence($1, $2)")
                .bind(table)
                .bind(&column)
                .fetch_optional(&mut *conn)
                .await?;
        let Some((Some(sequence),)) = sequence else {
            continue;
        };
        let sql = format!(
            "SELECT setval($1::regclass, (SELECT COALESCE(MAX({col}), 0) + 1 FROM {table}), false)",
            col = quote(&column),
            table = quote(table)
        );
        sqlx::query(&sql).bind(sequence).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Table and column names come from the catalogs; quoting keeps them whole.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
