//! Slugs and releases.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreResult;

#[derive(Debug, Clone)]
pub struct Slug {
    pub id: String,
    pub app_id: String,
    pub commit_sha: String,
    /// `{"web": "command", ...}` as JSON text.
    pub process_types: String,
    pub buildpack: Option<String>,
    pub size: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub version: i64,
    pub slug_id: Option<String>,
    pub description: String,
    pub actor_id: String,
    pub actor_email: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_slug(conn: &mut AnyConnection, slug: &Slug) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO slugs (id, app_id, commit_sha, process_types, buildpack, size, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&slug.id)
    .bind(&slug.app_id)
    .bind(&slug.commit_sha)
    .bind(&slug.process_types)
    .bind(&slug.buildpack)
    .bind(slug.size)
    .bind(slug.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

const RELEASE_SELECT: &str = "SELECT r.id, r.app_id, p.name AS app_name, r.version, r.slug_id, \
     r.description, r.actor_id, r.actor_email, r.status, r.created_at, r.updated_at \
     FROM releases r JOIN apps p ON p.id = r.app_id";

fn release_from_row(row: &AnyRow) -> StoreResult<Release> {
    Ok(Release {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        app_name: row.try_get("app_name")?,
        version: row.try_get("version")?,
        slug_id: row.try_get("slug_id")?,
        description: row.try_get("description")?,
        actor_id: row.try_get("actor_id")?,
        actor_email: row.try_get("actor_email")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The app's releases, oldest first.
pub async fn list(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Vec<Release>> {
    let sql = format!("{RELEASE_SELECT} WHERE r.app_id = $1 ORDER BY r.version");
    let rows = sqlx::query(&sql).bind(app_id).fetch_all(conn).await?;
    rows.iter().map(release_from_row).collect()
}

/// The app's newest release.
pub async fn latest(conn: &mut AnyConnection, app_id: &str) -> StoreResult<Option<Release>> {
    let sql = format!("{RELEASE_SELECT} WHERE r.app_id = $1 ORDER BY r.version DESC LIMIT 1");
    let row = sqlx::query(&sql).bind(app_id).fetch_optional(conn).await?;
    row.as_ref().map(release_from_row).transpose()
}

/// One release of the app, by id or by version number.
pub async fn find(
    conn: &mut AnyConnection,
    app_id: &str,
    id_or_version: &str,
) -> StoreResult<Option<Release>> {
    let row = match id_or_version.parse::<i64>() {
        Ok(version) => {
            let sql = format!("{RELEASE_SELECT} WHERE r.app_id = $1 AND r.version = $2");
            sqlx::query(&sql)
                .bind(app_id)
                .bind(version)
                .fetch_optional(conn)
                .await?
        }
        Err(_) => {
            let sql = format!("{RELEASE_SELECT} WHERE r.app_id = $1 AND r.id = $2");
            sqlx::query(&sql)
                .bind(app_id)
                .bind(id_or_version)
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(release_from_row).transpose()
}

/// The next version number. Call inside the write transaction that inserts
/// the release, after [`super::apps::mark_released`] has locked the app row.
pub async fn next_version(conn: &mut AnyConnection, app_id: &str) -> StoreResult<i64> {
    let row: (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM releases WHERE app_id = $1")
        .bind(app_id)
        .fetch_one(conn)
        .await?;
    Ok(row.0.unwrap_or(0) + 1)
}

pub async fn insert(conn: &mut AnyConnection, release: &Release) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO releases (id, app_id, version, slug_id, description, actor_id, \
         actor_email, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&release.id)
    .bind(&release.app_id)
    .bind(release.version)
    .bind(&release.slug_id)
    .bind(&release.description)
    .bind(&release.actor_id)
    .bind(&release.actor_email)
    .bind(&release.status)
    .bind(release.created_at)
    .bind(release.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
