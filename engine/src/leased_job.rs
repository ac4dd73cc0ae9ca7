//! A periodic background job that runs on one instance at a time, under its lease
//! ([`crate::leases`]). Every instance runs the same loop: take (or renew) the
//! lease, run the job when it is due, try again a third of the lease's lifetime
//! later. While the job runs the lease is renewed beside it; a job whose lease is
//! lost (not renewed in time, or taken by another instance after it expired) is
//! cancelled, so two runs never overlap.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;
use crate::Store;

/// Default lifetime of a lease: how long a dead holder's job waits before
/// another instance takes it over.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// What one round of [`LeasedJob::tick`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Another instance holds the lease.
    NotHolder,
    /// Held, but the job ran less than `every` ago.
    NotDue,
    /// Held, and the job ran to its end.
    Ran,
    /// The lease was lost while the job ran; the run was cancelled.
    Lost,
}

/// A job, the holder this process runs it as, its lease's lifetime and how often it runs.
#[derive(Clone, Debug)]
pub struct LeasedJob {
    pub name: String,
    pub holder: String,
    pub ttl: Duration,
    pub every: Duration,
}

impl LeasedJob {
    pub fn new(name: &str, holder: &str, ttl: Duration, every: Duration) -> Self {
        Self {
            name: name.to_string(),
            holder: holder.to_string(),
            ttl,
            every,
        }
    }

    /// How often the lease is renewed (and a free one tried for): a third of its
    /// lifetime, so two renewals may fail before it expires.
    pub fn renew_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(100))
    }

    /// Runs the job whenever it is due and this process holds the lease, forever
    /// (the caller aborts the task). Failures are logged and retried next round.
    pub async fn run_forever<F, Fut>(self, store: Store, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut holding = false;
        loop {
            let tick = self.tick(&store, &mut job).await;
            match tick {
                Ok(Tick::NotHolder) if holding => {
                    tracing::info!(job = %self.name, "lease lost to another instance");
                }
                Ok(Tick::Lost) => {
                    tracing::warn!(job = %self.name, "lease lost while running: the run was cancelled");
                }
                Ok(t) if !holding && t != Tick::NotHolder => {
                    tracing::info!(job = %self.name, holder = %self.holder, "lease taken: this instance runs the job");
                }
                Ok(_) => {}
                Err(ref e) => tracing::warn!(job = %self.name, "job lease: {e}"),
            }
            holding = matches!(tick, Ok(Tick::NotDue | Tick::Ran));
            tokio::time::sleep(
                self.renew_every()
                    .min(self.every.max(Duration::from_millis(100))),
            )
            .await;
        }
    }

    /// One round: take or renew the lease, and run the job if it is due.
    pub async fn tick<F, Fut>(&self, store: &Store, job: &mut F) -> Result<Tick>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let asked = Instant::now();
        let Some(grant) = store
            .acquire_lease(&self.name, &self.holder, self.ttl)
            .await?
        else {
            return Ok(Tick::NotHolder);
        };
        if grant.since_last_run.is_some_and(|d| d < self.every) {
            return Ok(Tick::NotDue);
        }
        // Held until then at least: the database's expiry counts from after we asked.
        let held_until = asked + self.ttl;
        if !self.run_renewing(store, job(), held_until).await {
            return Ok(Tick::Lost);
        }
        store.lease_ran(&self.name, &self.holder).await?;
        Ok(Tick::Ran)
    }

    /// Runs `run` while renewing the lease; false (and `run` dropped) as soon as
    /// the lease is not known to be held any more.
    async fn run_renewing<Fut: Future<Output = ()>>(
        &self,
        store: &Store,
        run: Fut,
        mut held_until: Instant,
    ) -> bool {
        tokio::pin!(run);
        loop {
            let next = (Instant::now() + self.renew_every()).min(held_until);
            tokio::select! {
                () = &mut run => return true,
                () = tokio::time::sleep_until(next) => {}
            }
            if Instant::now() >= held_until {
                return false;
            }
            let asked = Instant::now();
            let renewal = tokio::time::timeout(
                held_until - asked,
                store.acquire_lease(&self.name, &self.holder, self.ttl),
            )
            .await;
            match renewal {
                Ok(Ok(Some(_))) => held_until = asked + self.ttl,
                Ok(Ok(None)) => return false,
                // Still ours until it expires; the next round tries again.
                Ok(Err(e)) => tracing::warn!(job = %self.name, "renewing the job lease: {e}"),
                Err(_) => return false,
            }
        }
    }
}
