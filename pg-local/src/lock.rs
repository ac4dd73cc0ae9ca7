//! Sharing one embedded cluster between processes: the web server and any number
//! of CLI commands may use the same data directory at once.
//!
//! Two lock files sit beside the data directory, in its parent (initdb wants the
//! data directory itself empty):
//! - `.NAME.lock` is held exclusively while a process decides to start, restart or
//!   stop the postmaster, so two processes never start it twice, and one never
//!   stops it while another starts it. It holds the pid of the postmaster semrec
//!   started, so a postmaster started by hand (`pg_ctl start`) is never stopped.
//! - `.NAME.users` is held shared by every process that uses the cluster. A process
//!   stops the postmaster only when it can take this one exclusively: when no other
//!   semrec process uses it any more.
//!
//! `flock` locks belong to the open file and vanish with the process, so a crash
//! or a kill -9 never leaves a lock behind.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::ClusterError;

/// How long a process waits for another one to finish starting or stopping the
/// postmaster (an initdb and a crash recovery fit in it).
const DECISION_WAIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(50);

fn lock_path(data_dir: &Path, suffix: &str) -> PathBuf {
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postgres".into());
    data_dir
        .parent()
        .unwrap_or(Path::new("/"))
        .join(format!(".{name}.{suffix}"))
}

fn open(path: &Path) -> Result<File, ClusterError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| ClusterError::Io {
            context: format!(
                "could not open the lock file {} (semrec processes sharing the data directory coordinate through it)",
                path.display()
            ),
            source,
        })
}

/// `flock(2)`; false when `LOCK_NB` was given and another holder conflicts.
fn flock(file: &File, op: libc::c_int) -> std::io::Result<bool> {
    loop {
        // SAFETY: the descriptor is open for the lifetime of `file`.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// The right to start or stop the postmaster of one data directory.
pub(crate) struct DecisionLock {
    file: File,
}

impl DecisionLock {
    /// Waits (asynchronously) until no other process is starting or stopping it.
    pub(crate) async fn acquire(data_dir: &Path) -> Result<Self, ClusterError> {
        let path = lock_path(data_dir, "lock");
        let file = open(&path)?;
        let deadline = Instant::now() + DECISION_WAIT;
        let mut waited = false;
        loop {
            if Self::try_take(&file, &path)? {
                return Ok(Self { file });
            }
            if !waited {
                waited = true;
                tracing::info!(lock = %path.display(), "another semrec process is starting or stopping PostgreSQL; waiting for it");
            }
            if Instant::now() >= deadline {
                return Err(Self::timed_out(&path));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`Self::acquire`] for `Drop`, where nothing can be awaited.
    pub(crate) fn acquire_blocking(data_dir: &Path) -> Result<Self, ClusterError> {
        let path = lock_path(data_dir, "lock");
        let file = open(&path)?;
        let deadline = Instant::now() + DECISION_WAIT;
        loop {
            if Self::try_take(&file, &path)? {
                return Ok(Self { file });
            }
            if Instant::now() >= deadline {
                return Err(Self::timed_out(&path));
            }
            std::thread::sleep(POLL);
        }
    }

    fn try_take(file: &File, path: &Path) -> Result<bool, ClusterError> {
        flock(file, libc::LOCK_EX | libc::LOCK_NB).map_err(|source| ClusterError::Io {
            context: format!("could not lock {}", path.display()),
            source,
        })
    }

    fn timed_out(path: &Path) -> ClusterError {
        ClusterError::Io {
            context: format!(
                "another semrec process has been starting or stopping PostgreSQL for {} s (it holds {})",
                DECISION_WAIT.as_secs(),
                path.display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        }
    }

    /// The pid of the postmaster a semrec process started, if one did.
    pub(crate) fn started_postmaster(&self) -> Option<u32> {
        let mut text = String::new();
        (&self.file).rewind().ok()?;
        (&self.file).read_to_string(&mut text).ok()?;
        text.trim().parse().ok()
    }

    /// Records the postmaster semrec started (or that none runs).
    pub(crate) fn record_started(&self, pid: Option<u32>) {
        let written = self.file.set_len(0).and_then(|_| {
            let mut f = &self.file;
            f.rewind()?;
            if let Some(pid) = pid {
                writeln!(f, "{pid}")?;
            }
            f.flush()
        });
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record the postmaster's pid in the lock file");
        }
    }
}

/// This process's claim to use the cluster (a shared lock); dropped, the claim ends.
#[derive(Debug)]
pub(crate) struct UseLock {
    file: File,
}

impl UseLock {
    /// Claims a share of the cluster; true when no other process holds one. Call
    /// it under the [`DecisionLock`]: only a process holding that one takes this
    /// lock exclusively, so this never waits.
    pub(crate) fn claim(data_dir: &Path) -> Result<(Self, bool), ClusterError> {
        let path = lock_path(data_dir, "users");
        let file = open(&path)?;
        let lock_err = |source| ClusterError::Io {
            context: format!("could not lock {}", path.display()),
            source,
        };
        let sole = flock(&file, libc::LOCK_EX | libc::LOCK_NB).map_err(lock_err)?;
        flock(&file, libc::LOCK_SH).map_err(lock_err)?;
        Ok((Self { file }, sole))
    }

    /// Ends this process's claim; true when no other process holds one (the
    /// caller, holding the [`DecisionLock`], may then stop the postmaster).
    pub(crate) fn release_last(self) -> bool {
        // Linux drops the shared lock if the upgrade fails: fine, we are leaving.
        flock(&self.file, libc::LOCK_EX | libc::LOCK_NB).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_sit_beside_the_data_directory() {
        assert_eq!(
            lock_path(Path::new("/srv/data/postgres"), "lock"),
            PathBuf::from("/srv/data/.postgres.lock")
        );
    }

    #[tokio::test]
    async fn the_last_user_is_told_so() {
        let dir = std::env::temp_dir().join(format!("semrec-lock-test-{}", std::process::id()));
        let data = dir.join("pg");
        std::fs::create_dir_all(&data).unwrap();
        let decision = DecisionLock::acquire(&data).await.unwrap();
        decision.record_started(Some(42));
        assert_eq!(decision.started_postmaster(), Some(42));
        let (a, sole) = UseLock::claim(&data).unwrap();
        assert!(sole);
        let (b, sole) = UseLock::claim(&data).unwrap();
        assert!(!sole, "a uses it");
        assert!(!a.release_last(), "b still uses it");
        assert!(b.release_last());
        // A second decision waits for the first (flock is per open file).
        let path = lock_path(&data, "lock");
        assert!(!DecisionLock::try_take(&open(&path).unwrap(), &path).unwrap());
        drop(decision);
        assert!(DecisionLock::try_take(&open(&path).unwrap(), &path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
