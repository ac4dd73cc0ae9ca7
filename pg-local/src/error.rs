//! What can go wrong with a local cluster, each said on one line with what to do.

use std::path::PathBuf;

use crate::options::{LOG_FILE, SERVICE_USER};

/// Why a local cluster could not be started, prepared or stopped.
/// Each message says what happened and what to do about it, on one line.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) not found in {} — install postgresql-15 (scripts/setup.sh does) or set SEMREC_PG_BIN to the directory that holds them",
        bin_dir.display()
    )]
    PostgresNotInstalled {
        bin_dir: PathBuf,
        /// Why running `postgres -V` failed, when it could not be run at all.
        #[source]
        source: Option<std::io::Error>,
    },

    #[error("the pgvector extension (vector) is not installed in this PostgreSQL — run scripts/setup.sh to build and install it")]
    PgvectorMissing,

    #[error("port {port} on 127.0.0.1 is already in use by another process — stop that process or choose another port (0 picks a free one)")]
    PortInUse { port: u16 },

    #[error(
        "initdb failed: {} — make sure the data directory is empty and writable, then retry",
        one_line(log)
    )]
    InitFailed { log: String },

    #[error("PostgreSQL did not start: {} — see the log in the data directory ({LOG_FILE}) and fix the cause", one_line(log_tail))]
    StartFailed { log_tail: String },

    #[error("cannot use {} as PostgreSQL data directory: {reason}", data_dir.display())]
    DataDirUnusable { data_dir: PathBuf, reason: String },

    #[error("running as root, but there is no '{SERVICE_USER}' system user to run PostgreSQL as (it refuses to run as root) — install postgresql-15 (scripts/setup.sh does; it creates the user) or run semrec as a normal user")]
    NoServiceUser,

    #[error("{context}: {source} — check permissions and free disk space")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("PostgreSQL already runs in {} on port {running} for another semrec process, and this one asks for port {wanted} — set SEMREC_PG_PORT={running} (or 0) here too, or stop that process first", data_dir.display())]
    RunningOnAnotherPort {
        data_dir: PathBuf,
        running: u16,
        wanted: u16,
    },

    #[error("SQL on the local cluster failed: {0} — see {LOG_FILE} in the data directory")]
    Sql(#[from] sqlx::Error),
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// Collapses (the last lines of) a multi-line log into one line.
pub(crate) fn one_line(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(6);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "(no output)".to_owned()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_keeps_the_tail() {
        let log = (1..=10)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            one_line(&log),
            "line 5 | line 6 | line 7 | line 8 | line 9 | line 10"
        );
        assert_eq!(one_line("\n \n"), "(no output)");
    }
}
