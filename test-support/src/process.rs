//! Processes: the postmaster of a data directory, whether a pid runs, signals.

use std::path::Path;

pub use libc::{SIGKILL, SIGTERM};

/// The postmaster's pid per `postmaster.pid` (whether or not it still runs).
pub fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// A running process (not a zombie: the postmaster's parent may be a pid 1 that
/// does not reap).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Sends `signal` (`libc::SIGTERM`, `libc::SIGKILL`, …) to `pid`; true when delivered.
pub fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one the test
    // started or read from its own data directory.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Whether the tests run as root (PostgreSQL then runs as the `postgres` user).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
