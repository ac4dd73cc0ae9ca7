//! API keys for the JSON API. A key is shown once when created; only its
//! SHA-256 is stored, so a database leak does not leak usable keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::Store;

/// Every key starts with this, so a leaked key is recognisable (e.g. by secret scanners).
pub const KEY_PREFIX: &str = "semrec_";
/// Characters of the key kept in clear to tell keys apart in listings.
const SHOWN_PREFIX_CHARS: usize = 12;
const MAX_NAME_CHARS: usize = 100;

/// What a key may do. `Admin` includes everything `Write` may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Recommendations (they record impressions), events, item writes.
    Write,
    /// Metrics, and everything `Write` may do.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// True when a key of this scope may do what `needed` requires.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "write" => Ok(Self::Write),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown scope '{other}': use 'write' or 'admin'")),
        }
    }
}

/// A stored key, without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, for recognising it.
    pub prefix: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly created key: the secret exists only here.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

type KeyRow = (
    i64,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn from_row(
    (id, name, prefix, scope, created_at, last_used_at, revoked_at): KeyRow,
) -> Result<ApiKey> {
    Ok(ApiKey {
        id,
        name,
        prefix,
        scope: scope
            .parse()
            .map_err(|e: String| EngineError::Internal(format!("stored api key {id}: {e}")))?,
        created_at,
        last_used_at,
        revoked_at,
    })
}

const KEY_COLUMNS: &str = "id, name, prefix, scope, created_at, last_used_at, revoked_at";

fn key_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Creates a key. Names are unique among live (unrevoked) keys.
    pub async fn create_api_key(&self, name: &str, scope: Scope) -> Result<NewApiKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(EngineError::invalid(
                "name",
                format!("an API key name has 1–{MAX_NAME_CHARS} characters"),
            ));
        }
        let secret = format!("{KEY_PREFIX}{}", crate::sessions::new_token());
        let prefix: String = secret.chars().take(SHOWN_PREFIX_CHARS).collect();
        let row: std::result::Result<KeyRow, sqlx::Error> = sqlx::query_as(&format!(
            "INSERT INTO api_keys (name, key_hash, prefix, scope) VALUES ($1, $2, $3, $4)
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(name)
        .bind(key_hash(&secret))
        .bind(&prefix)
        .bind(scope.as_str())
        .fetch_one(self.pool())
        .await;
        let row = match row {
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => {
                return Err(EngineError::Conflict(format!(
                    "a live API key named '{name}' exists already: revoke it first or choose another name"
                )))
            }
            other => other?,
        };
        Ok(NewApiKey {
            key: from_row(row)?,
            secret,
        })
    }

    /// All keys, newest first, revoked ones included (they show when they were revoked).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Revokes the live key with this name or else, when `name_or_id` is a
    /// number, with this id. The name wins: a key may be named like another
    /// key's id, and one command must never revoke two keys.
    pub async fn revoke_api_key(&self, name_or_id: &str) -> Result<ApiKey> {
        let name_or_id = name_or_id.trim();
        let by_name: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM api_keys WHERE revoked_at IS NULL AND name = $1")
                .bind(name_or_id)
                .fetch_optional(self.pool())
                .await?;
        let id = match (by_name, name_or_id.parse::<i64>()) {
            (Some((id,)), _) | (None, Ok(id)) => id,
            (None, Err(_)) => {
                return Err(EngineError::NotFound(format!(
                    "live API key '{name_or_id}'"
                )))
            }
        };
        self.revoke_api_key_by_id(id).await.map_err(|e| match e {
            EngineError::NotFound(_) => {
                EngineError::NotFound(format!("live API key '{name_or_id}'"))
            }
            other => other,
        })
    }

    /// Revokes the live key with this id (the admin page's revoke buttons).
    pub async fn revoke_api_key_by_id(&self, id: i64) -> Result<ApiKey> {
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = now()
             WHERE revoked_at IS NULL AND id = $1
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(from_row)
            .transpose()?
            .ok_or_else(|| EngineError::NotFound(format!("live API key with id {id}")))
    }

    /// The live key a secret belongs to, or None for unknown and revoked keys.
    pub async fn verify_api_key(&self, secret: &str) -> Result<Option<ApiKey>> {
        if !secret.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash(secret))
        .fetch_optional(self.pool())
        .await?;
        let Some(key) = row.map(from_row).transpose()? else {
            return Ok(None);
        };
        // At most one write a minute per key: usage is visible without a write per request.
        sqlx::query(
            "UPDATE api_keys SET last_used_at = now()
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind(key.id)
        .execute(self.pool())
        .await?;
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_scope_includes_write_but_not_the_reverse() {
        assert!(Scope::Admin.allows(Scope::Write));
        assert!(Scope::Admin.allows(Scope::Admin));
        assert!(Scope::Write.allows(Scope::Write));
        assert!(!Scope::Write.allows(Scope::Admin));
        assert_eq!("admin".parse::<Scope>(), Ok(Scope::Admin));
        assert!("read".parse::<Scope>().is_err());
    }
}
