//! Browser sessions. The cookie carries a random token; only its SHA-256 is
//! stored, so a database leak does not leak usable sessions.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::Engine;

pub const SESSION_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub user_id: Option<i64>,
    pub handle: Option<String>,
    pub is_admin: bool,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 244 random bits from the OS generator, as 64 hex characters.
pub fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Engine {
    /// Opens a session and returns the token to put in the cookie.
    pub async fn create_session(&self, user_id: Option<i64>, is_admin: bool) -> Result<String> {
        let token = new_token();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, is_admin, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(days => $4::int))",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(is_admin)
        .bind(SESSION_DAYS as i32)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        let row: Option<(Option<i64>, Option<String>, bool)> = sqlx::query_as(
            "SELECT s.user_id, u.handle, s.is_admin FROM sessions s LEFT JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > now()",
        )
        .bind(token_hash(token))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(user_id, handle, is_admin)| Session {
            user_id,
            handle,
            is_admin,
        }))
    }

    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < now()")
            .bind(token_hash(token))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
