//! The postmaster process of a local cluster: finding the live one for a data
//! directory, telling a stale `postmaster.pid` from a live one, and starting it.

use std::path::Path;
use std::time::Instant;

use crate::data_dir::write_private_file;
use crate::error::{io_err, ClusterError};
use crate::options::{LOG_FILE, SETTINGS_FILE};
use crate::runner::{output_text, Runner};
use crate::settings::settings;

/// How long `pg_ctl start -w` waits for the server to accept connections.
const START_TIMEOUT_SECS: u32 = 120;
const LOG_ROTATE_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) struct RunningServer {
    pub(crate) pid: u32,
    pub(crate) port: u16,
}

/// What postmaster.pid says: the postmaster's pid and port.
fn pid_file(data_dir: &Path) -> Option<RunningServer> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines
        .nth(2)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Some(RunningServer { pid, port })
}

/// Whether `pid` is a live process working in `data_dir`. A postmaster's working
/// directory is its data directory (so are its children's); a recycled pid (after
/// a reboot, in a container) points somewhere else.
fn works_in(pid: u32, data_dir: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == data_dir)
}

/// The live postmaster of this data directory, per postmaster.pid and /proc.
/// Only looks: safe to call without the decision lock (the supervisor's poll).
pub(crate) fn live_postmaster(data_dir: &Path) -> Option<RunningServer> {
    pid_file(data_dir).filter(|s| works_in(s.pid, data_dir))
}

/// A live postmaster for this data directory; a stale postmaster.pid (its pid is
/// gone, or is now another process) is removed. Call it under the decision lock
/// ([`crate::lock::DecisionLock`]), so that the file removed is never one
/// a postmaster another semrec process is starting has just written.
pub(crate) fn running_server(data_dir: &Path) -> Option<RunningServer> {
    let found = pid_file(data_dir)?;
    if works_in(found.pid, data_dir) {
        return Some(found);
    }
    let pid_file = data_dir.join("postmaster.pid");
    let reason = if Path::new(&format!("/proc/{}", found.pid)).exists() {
        "its pid now belongs to another process"
    } else {
        "its postmaster is gone (a crash or a kill -9); PostgreSQL recovers on start"
    };
    tracing::warn!(pid = found.pid, file = %pid_file.display(), "removing a stale postmaster.pid: {reason}");
    if let Err(e) = std::fs::remove_file(&pid_file) {
        tracing::warn!(error = %e, "could not remove the stale postmaster.pid");
    }
    None
}

/// Processes still working in `data_dir` (a killed postmaster's children, until
/// they notice and exit): a new postmaster refuses to start while they hold the
/// old shared memory.
pub(crate) fn leftover_processes(data_dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| works_in(pid, data_dir))
        .collect()
}

pub(crate) fn free_port() -> Result<u16, ClusterError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(io_err("could not find a free port on 127.0.0.1"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_err("could not find a free port on 127.0.0.1"))
}

pub(crate) fn check_port_free(port: u16) -> Result<(), ClusterError> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(ClusterError::PortInUse { port })
        }
        Err(e) => Err(ClusterError::Io {
            context: format!("could not check whether port {port} on 127.0.0.1 is free"),
            source: e,
        }),
    }
}

fn rotate_log(log: &Path) {
    if std::fs::metadata(log)
        .map(|m| m.len() > LOG_ROTATE_BYTES)
        .unwrap_or(false)
    {
        let _ = std::fs::rename(log, log.with_extension("log.old"));
    }
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Writes the settings and runs `pg_ctl start -w`; returns the port it listens on.
/// With an auto-picked port, a port grabbed by someone else in the meantime is
/// replaced by another free one (a few times).
pub(crate) async fn start_server(
    runner: &Runner,
    data_dir: &Path,
    mut port: u16,
    auto_port: bool,
    ephemeral: bool,
    bin_major: &str,
) -> Result<u16, ClusterError> {
    let log = data_dir.join(LOG_FILE);
    rotate_log(&log);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let conf = data_dir.join(SETTINGS_FILE);
        write_private_file(runner, &conf, &settings(data_dir, port, ephemeral))?;
        let started = Instant::now();
        let out = runner
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", &START_TIMEOUT_SECS.to_string()])
            .output()
            .await
            .map_err(io_err("could not run pg_ctl start"))?;
        if out.status.success() {
            tracing::info!(
                data_dir = %data_dir.display(),
                port,
                version = bin_major,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "PostgreSQL started"
            );
            return Ok(port);
        }
        let tail = log_tail(&log, 15);
        let port_taken =
            tail.contains("could not bind IPv4 address") || tail.contains("Address already in use");
        if port_taken && auto_port && attempt < 4 {
            tracing::warn!(
                port,
                "port was taken before PostgreSQL could bind it; trying another"
            );
            // Make sure no half-started server is left behind before retrying.
            if running_server(data_dir).is_some() {
                let _ = runner.pg_ctl_stop_async(data_dir).await;
            }
            port = free_port()?;
            continue;
        }
        // pg_ctl -t timed out but the server may still come up: don't leave it behind.
        if running_server(data_dir).is_some() {
            let _ = runner.pg_ctl_stop_async(data_dir).await;
        }
        if port_taken {
            return Err(ClusterError::PortInUse { port });
        }
        let mut log_tail = output_text(&out);
        if !tail.is_empty() {
            log_tail.push('\n');
            log_tail.push_str(&tail);
        }
        return Err(ClusterError::StartFailed { log_tail });
    }
}
