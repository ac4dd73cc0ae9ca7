//! Throttles that must hold across every semrec process on one database, so
//! their counters live in PostgreSQL (`throttle_counters`):
//!
//! - **Admin sign-in.** Each attempt counts against the client's address before
//!   the password is checked (one atomic upsert, so a burst of parallel guesses
//!   cannot slip past the count). A sign-in clears the address's count. From the
//!   5th attempt in 15 minutes the address is locked for 1 s, then 2 s, 4 s, …
//!   up to 15 min. Failures also count per user name, with the same schedule; that
//!   lock applies only to addresses that have failed themselves within the window,
//!   so an address with no failures is never locked out by guesses from elsewhere.
//! - **New handles.** At most 20 new handles per client address per hour.
//!
//! IPv6 clients are counted per /64 (one host usually owns the whole prefix).

use std::net::IpAddr;

use crate::error::Result;
use crate::Store;

/// Attempts allowed before the first lock.
pub const SIGN_IN_FREE_ATTEMPTS: i32 = 5;
/// Counts expire this long after the last attempt (or the end of the last lock).
pub const SIGN_IN_WINDOW_SECS: f64 = 15.0 * 60.0;
/// The longest lock.
pub const SIGN_IN_MAX_LOCK_SECS: f64 = 15.0 * 60.0;
/// New handles per client address in an hour.
pub const NEW_HANDLES_PER_HOUR: i32 = 20;
const HOUR_SECS: f64 = 3600.0;

const ADMIN_IP: &str = "admin_ip";
const ADMIN_USER: &str = "admin_user";
const NEW_HANDLE: &str = "new_handle";

/// Longest user-name key stored (names are attacker-chosen).
const MAX_NAME_KEY_CHARS: usize = 64;

/// Whether a throttled action may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    Allowed,
    /// Refused: retry after this many seconds (at least 1).
    Wait(u64),
}

/// The counting key of a client address: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64 prefix.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn name_key(user: &str) -> String {
    user.trim()
        .to_lowercase()
        .chars()
        .take(MAX_NAME_KEY_CHARS)
        .collect()
}

/// The upsert that counts one hit: a lapsed row starts again at 1; from `$4`
/// hits on, the row is locked for 2^(hits − $4) seconds, at most `$5`; the row
/// lives `$3` seconds past the later of now and the lock's end. With
/// `refuse_while_locked`, a locked row takes no hit and the statement returns no
/// row; without, the hit counts and never shortens a running lock.
fn count_hit_sql(refuse_while_locked: bool) -> String {
    let lock = "CASE WHEN new_hits >= $4 \
                THEN now() + make_interval(secs => LEAST(power(2, new_hits - $4), $5)) END";
    let hits = "CASE WHEN t.expires_at <= now() THEN 1 ELSE t.hits + 1 END";
    let lock_expr = lock.replace("new_hits", &format!("({hits})"));
    let keep_lock = if refuse_while_locked {
        lock_expr.clone()
    } else {
        // A failure never shortens a lock already running.
        format!("GREATEST(CASE WHEN t.expires_at > now() THEN t.locked_until END, {lock_expr})")
    };
    let condition = if refuse_while_locked {
        "WHERE t.locked_until IS NULL OR t.locked_until <= now() OR t.expires_at <= now()"
    } else {
        ""
    };
    format!(
        "INSERT INTO throttle_counters AS t (scope, key, hits, locked_until, expires_at)
         VALUES ($1, $2, 1, CASE WHEN 1 >= $4 THEN now() + make_interval(secs => 1) END,
                 now() + make_interval(secs => $3))
         ON CONFLICT (scope, key) DO UPDATE SET
             hits = {hits},
             locked_until = {keep_lock},
             expires_at = COALESCE({keep_lock}, now()) + make_interval(secs => $3)
         {condition}
         RETURNING hits"
    )
}

impl Store {
    /// Seconds until the row's lock ends, when it is locked now.
    async fn locked_for(&self, scope: &str, key: &str) -> Result<Option<u64>> {
        let secs: Option<i64> = sqlx::query_scalar(
            "SELECT CEIL(EXTRACT(EPOCH FROM locked_until - now()))::bigint
               FROM throttle_counters
              WHERE scope = $1 AND key = $2 AND expires_at > now() AND locked_until > now()",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        Ok(secs.map(|s| s.max(1) as u64))
    }

    /// Counts an admin sign-in attempt from `ip` for `user`, before the password
    /// is checked. `Wait` when the address, or (for an address that has failed
    /// before) the user name, is locked; the attempt is then not made.
    pub async fn begin_admin_sign_in(&self, ip: IpAddr, user: &str) -> Result<Throttle> {
        let (ip, user) = (address_key(ip), name_key(user));
        let failed_before: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM throttle_counters
                             WHERE scope = $1 AND key = $2 AND expires_at > now() AND hits > 0)",
        )
        .bind(ADMIN_IP)
        .bind(&ip)
        .fetch_one(self.pool())
        .await?;
        if failed_before {
            if let Some(secs) = self.locked_for(ADMIN_USER, &user).await? {
                return Ok(Throttle::Wait(secs));
            }
        }
        let counted: Option<i32> = sqlx::query_scalar(&count_hit_sql(true))
            .bind(ADMIN_IP)
            .bind(&ip)
            .bind(SIGN_IN_WINDOW_SECS)
            .bind(SIGN_IN_FREE_ATTEMPTS)
            .bind(SIGN_IN_MAX_LOCK_SECS)
            .fetch_optional(self.pool())
            .await?;
        if counted.is_some() {
            return Ok(Throttle::Allowed);
        }
        let secs = self.locked_for(ADMIN_IP, &ip).await?.unwrap_or(1);
        Ok(Throttle::Wait(secs))
    }

    /// Records a failed admin sign-in against the user name (the address was
    /// counted by [`Self::begin_admin_sign_in`]).
    pub async fn admin_sign_in_failed(&self, user: &str) -> Result<()> {
        sqlx::query(&count_hit_sql(false))
            .bind(ADMIN_USER)
            .bind(name_key(user))
            .bind(SIGN_IN_WINDOW_SECS)
            .bind(SIGN_IN_FREE_ATTEMPTS)
            .bind(SIGN_IN_MAX_LOCK_SECS)
            .execute(self.pool())
            .await?;
        self.sweep_throttle_counters().await
    }

    /// A successful sign-in clears the address's count (not the user name's: that
    /// one may be counting someone else's guesses).
    pub async fn admin_sign_in_succeeded(&self, ip: IpAddr) -> Result<()> {
        sqlx::query("DELETE FROM throttle_counters WHERE scope = $1 AND key = $2")
            .bind(ADMIN_IP)
            .bind(address_key(ip))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes one of the address's new handles of this hour (the hour starts with
    /// its first new handle), or says how long until the next one.
    pub async fn take_new_handle(&self, ip: IpAddr) -> Result<Throttle> {
        let key = address_key(ip);
        let taken: Option<i32> = sqlx::query_scalar(
            "INSERT INTO throttle_counters AS t (scope, key, hits, expires_at)
             VALUES ($1, $2, 1, now() + make_interval(secs => $3))
             ON CONFLICT (scope, key) DO UPDATE SET
                 hits = CASE WHEN t.expires_at <= now() THEN 1 ELSE t.hits + 1 END,
                 expires_at = CASE WHEN t.expires_at <= now()
                                   THEN now() + make_interval(secs => $3) ELSE t.expires_at END
             WHERE t.expires_at <= now() OR t.hits < $4
             RETURNING hits",
        )
        .bind(NEW_HANDLE)
        .bind(&key)
        .bind(HOUR_SECS)
        .bind(NEW_HANDLES_PER_HOUR)
        .fetch_optional(self.pool())
        .await?;
        if taken.is_some() {
            self.sweep_throttle_counters().await?;
            return Ok(Throttle::Allowed);
        }
        let secs: Option<i64> = sqlx::query_scalar(
            "SELECT CEIL(EXTRACT(EPOCH FROM expires_at - now()))::bigint
               FROM throttle_counters WHERE scope = $1 AND key = $2",
        )
        .bind(NEW_HANDLE)
        .bind(&key)
        .fetch_optional(self.pool())
        .await?;
        Ok(Throttle::Wait(secs.unwrap_or(1).max(1) as u64))
    }

    /// Now and then (one write in 64) deletes rows that lapsed over an hour ago,
    /// so counters for many addresses or names cannot pile up.
    async fn sweep_throttle_counters(&self) -> Result<()> {
        if rand::random::<u8>() < 4 {
            sqlx::query(
                "DELETE FROM throttle_counters WHERE expires_at < now() - interval '1 hour'",
            )
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_per_host_and_ipv6_per_prefix() {
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
        assert_eq!(
            address_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            address_key("2001:db8:1:2:ffff::1".parse().unwrap())
        );
        assert_ne!(
            address_key("2001:db8:1:2::1".parse().unwrap()),
            address_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(name_key("  Admin "), "admin");
        assert_eq!(name_key(&"x".repeat(500)).len(), MAX_NAME_KEY_CHARS);
    }
}
