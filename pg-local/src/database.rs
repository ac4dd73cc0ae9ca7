//! The cluster's database: created if missing, with the vector extension, and
//! the URL to reach it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::cluster::LocalCluster;
use crate::error::ClusterError;
use crate::options::SUPERUSER;

impl LocalCluster {
    /// Creates the database if missing and the vector extension in it.
    pub(crate) async fn prepare_database(&self) -> Result<(), ClusterError> {
        let mut admin = connect_with_retry(&self.database_url_for("postgres")).await?;
        // A standby ([`LocalCluster::start_replica`]) is read-only: its database
        // and extension are its primary's.
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut admin)
            .await?;
        if standby {
            let _ = admin.close().await;
            return Ok(());
        }
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&self.database)
                .fetch_optional(&mut admin)
                .await?;
        if exists.is_none() {
            let sql = format!("CREATE DATABASE {}", quote_ident(&self.database));
            match sqlx::query(&sql).execute(&mut admin).await {
                Ok(_) => tracing::info!(database = %self.database, "created database"),
                // Someone else created it at the same moment.
                Err(e) if matches!(sql_state(&e).as_deref(), Some("42P04" | "23505")) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _ = admin.close().await;

        let mut conn = connect_with_retry(&self.url).await?;
        let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if is_missing_extension(&e) => {
                tracing::error!(error = %e, "CREATE EXTENSION vector failed: pgvector is not installed");
                Err(ClusterError::PgvectorMissing)
            }
            // Concurrent CREATE EXTENSION from another process.
            Err(e) if sql_state(&e).as_deref() == Some("23505") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

async fn connect_with_retry(url: &str) -> Result<PgConnection, ClusterError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match PgConnection::connect(url).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                // 57P03: the database system is starting up / shutting down.
                let retryable =
                    matches!(e, sqlx::Error::Io(_)) || sql_state(&e).as_deref() == Some("57P03");
                if !retryable || Instant::now() >= deadline {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// PostgreSQL 15 says `could not open extension control file ".../vector.control"`
/// (58P01); newer versions `extension "vector" is not available` (0A000).
fn is_missing_extension(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    (code == "58P01" || code == "0A000") && db.message().contains("vector")
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn make_url(password: &str, port: u16, database: &str) -> String {
    format!(
        "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{}",
        percent_encode(password),
        percent_encode(database)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_names() {
        assert_eq!(
            make_url("abc", 5432, "my db"),
            "postgres://semrec:abc@127.0.0.1:5432/my%20db"
        );
    }
}
