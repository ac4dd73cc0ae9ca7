//! Temporary directories for data directories, cookie jars and files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory the `postgres` user can enter (tests may run as root, and
/// PostgreSQL then runs as that user), removed on drop. A postmaster still
/// running in its `pgdata` (a failed test's) is sent SIGTERM first.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = if crate::process::running_as_root() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = base.join(format!(
            "semrec-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, path: impl AsRef<Path>) -> PathBuf {
        self.0.join(path)
    }

    /// The data directory the `semrec` command of [`crate::binary`] uses.
    pub fn pgdata(&self) -> PathBuf {
        self.0.join("pgdata")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A postmaster a failed test left behind would hold the directory.
        if let Some(pid) = crate::process::postmaster_pid(&self.pgdata()) {
            crate::process::signal(pid, libc::SIGTERM);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
