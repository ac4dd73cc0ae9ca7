//! Browser sessions. The cookie carries a random token; only its SHA-256 is
//! stored, so a database leak does not leak usable sessions.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::Engine;

/// Lifetime of an end user's session.
pub const SESSION_DAYS: i64 = 30;
/// Lifetime of an admin session: a working day, not a month.
pub const ADMIN_SESSION_HOURS: i64 = 8;

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

/// What binds an admin session to the credential it was opened with: a SHA-256
/// keyed by the session's token (a fixed-length 244-bit secret that is never
/// stored), so the stored value tells nothing about the password, and a session
/// opened with another name or password never matches.
fn credential_mac(token: &str, credential: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"semrec admin session\0");
    h.update(token.as_bytes());
    h.update(b"\0");
    h.update(credential.as_bytes());
    hex::encode(h.finalize())
}

impl Engine {
    /// Opens an admin session for [`ADMIN_SESSION_HOURS`], bound to `credential`
    /// (the admin name and password it was opened with); returns the cookie's token.
    pub async fn create_admin_session(&self, credential: &str) -> Result<String> {
        let token = new_token();
        sqlx::query(
            "INSERT INTO sessions (token_hash, is_admin, credential_mac, expires_at)
             VALUES ($1, true, $2, now() + make_interval(hours => $3::int))",
        )
        .bind(token_hash(&token))
        .bind(credential_mac(&token, credential))
        .bind(ADMIN_SESSION_HOURS as i32)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// Whether `token` is a live admin session opened with `credential`: after the
    /// password changes (a new one set, or a new one generated at start) every
    /// earlier admin session is refused.
    pub async fn admin_session_valid(&self, token: &str, credential: &str) -> Result<bool> {
        let mac: Option<Option<String>> = sqlx::query_scalar(
            "SELECT credential_mac FROM sessions
             WHERE token_hash = $1 AND is_admin AND expires_at > now()",
        )
        .bind(token_hash(token))
        .fetch_optional(self.pool())
        .await?;
        Ok(mac.flatten().is_some_and(|m| {
            constant_time_eq(m.as_bytes(), credential_mac(token, credential).as_bytes())
        }))
    }

    /// Deletes expired sessions of every kind; returns how many.
    pub async fn sweep_expired_sessions(&self) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expires_at <= now()")
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_binding_depends_on_token_and_credential() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(
            credential_mac(&a, "admin\0pw"),
            credential_mac(&a, "admin\0pw")
        );
        assert_ne!(
            credential_mac(&a, "admin\0pw"),
            credential_mac(&a, "admin\0pw2")
        );
        assert_ne!(
            credential_mac(&a, "admin\0pw"),
            credential_mac(&b, "admin\0pw")
        );
    }
}
