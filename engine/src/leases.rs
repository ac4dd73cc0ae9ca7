//! Leases of background jobs in PostgreSQL (`job_leases`): with several semrec
//! instances on one database, a periodic job runs on the one instance that holds
//! its lease. Taking, renewing and keeping a lease are each one atomic statement,
//! so two instances can never both hold it; a holder that dies stops renewing, its
//! lease expires, and another instance takes the job over.
//!
//! Times are the database's (`now()`), never an instance's clock, so instances
//! whose clocks disagree still agree on who holds a lease and when a job last ran.

use std::time::Duration;

use crate::error::Result;
use crate::Store;

/// A lease held (just taken or renewed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grant {
    /// Time since the job last finished, on any instance; `None` if it never has.
    pub since_last_run: Option<Duration>,
}

/// A new holder id for this process: host name, process id and a random part (a
/// restarted process with the same pid is a new holder).
pub fn new_holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let host = if host.is_empty() { "host".into() } else { host };
    let random = &crate::sessions::new_token()[..8];
    format!("{host}/{}/{random}", std::process::id())
}

impl Store {
    /// Takes `job`'s lease for `holder` until `ttl` from now, or renews it when
    /// `holder` already has it. Succeeds only when the lease is free (never taken,
    /// or expired) or the holder's own; `None` when another holder has it. One
    /// statement: of two instances racing for a free lease, exactly one gets it.
    pub async fn acquire_lease(
        &self,
        job: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Grant>> {
        let row: Option<(Option<f64>,)> = sqlx::query_as(
            "INSERT INTO job_leases AS l (job, holder, expires_at)
             VALUES ($1, $2, now() + make_interval(secs => $3))
             ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder,
                                             expires_at = EXCLUDED.expires_at
             WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
             RETURNING EXTRACT(EPOCH FROM now() - l.last_run_at)::float8",
        )
        .bind(job)
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(secs,)| Grant {
            since_last_run: secs.map(|s| Duration::from_secs_f64(s.max(0.0))),
        }))
    }

    /// Records that `holder` finished a run of `job` now. False when it no longer
    /// holds the lease (the run's time is then not recorded).
    pub async fn lease_ran(&self, job: &str, holder: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE job_leases SET last_run_at = now()
             WHERE job = $1 AND holder = $2 AND expires_at > now()",
        )
        .bind(job)
        .bind(holder)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Ends every lease `holder` has (at shutdown), so another instance takes its
    /// jobs over at its next try instead of after the expiry. Returns how many.
    pub async fn release_leases(&self, holder: &str) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE job_leases SET expires_at = now() WHERE holder = $1 AND expires_at > now()",
        )
        .bind(holder)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Who holds `job`'s lease now, if anyone.
    pub async fn lease_holder(&self, job: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT holder FROM job_leases WHERE job = $1 AND expires_at > now()",
        )
        .bind(job)
        .fetch_optional(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_ids_differ_between_calls_and_name_the_process() {
        let (a, b) = (new_holder_id(), new_holder_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!("/{}/", std::process::id())), "{a}");
    }
}
