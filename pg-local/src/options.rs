//! How a local cluster is started: where its data and programs are, and the
//! names of the files semrec keeps in its data directory.

use std::path::PathBuf;

use crate::runner::is_root;

/// Where Debian's PostgreSQL 15 puts its server programs.
pub const DEFAULT_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
/// Environment variable that overrides [`DEFAULT_BIN_DIR`].
pub const BIN_DIR_ENV: &str = "SEMREC_PG_BIN";
/// The cluster's superuser.
pub const SUPERUSER: &str = "semrec";
/// The system user PostgreSQL runs as when semrec runs as root.
pub const SERVICE_USER: &str = "postgres";
/// File inside the data directory that holds the superuser's password.
pub const PASSWORD_FILE: &str = "semrec_superuser.password";
/// Configuration file inside the data directory that semrec rewrites on every start.
pub const SETTINGS_FILE: &str = "semrec.conf";
/// Server log inside the data directory.
pub const LOG_FILE: &str = "postgres.log";
/// Set (non-empty) to make every temporary cluster run its own initdb.
pub const NO_TEMPLATE_ENV: &str = "SEMREC_PG_NO_TEMPLATE";

/// How to start a [`LocalCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The cluster's data directory (PGDATA). Created and initialised on first use.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; 0 picks a free one (or keeps the port of a cluster
    /// that is already running in `data_dir`).
    pub port: u16,
    /// Directory holding `initdb`, `pg_ctl` and `postgres`.
    pub bin_dir: PathBuf,
    /// Database to create (if missing) and to put in [`LocalCluster::database_url`].
    pub database: String,
}

impl ClusterOptions {
    /// Options for `data_dir` with a free port, the default binaries and database `semrec`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: 0,
            bin_dir: Self::default_bin_dir(),
            database: "semrec".to_owned(),
        }
    }

    /// `$SEMREC_PG_BIN` if set and non-empty, else `/usr/lib/postgresql/15/bin`.
    pub fn default_bin_dir() -> PathBuf {
        match std::env::var_os(BIN_DIR_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_BIN_DIR),
        }
    }

    /// Default place for the embedded cluster: `/var/lib/semrec/postgres` when running
    /// as root (root's home is not reachable by the `postgres` user), else
    /// `$XDG_DATA_HOME/semrec/postgres` or `~/.local/share/semrec/postgres`.
    pub fn default_data_dir() -> PathBuf {
        if is_root() {
            return PathBuf::from("/var/lib/semrec/postgres");
        }
        let base = match std::env::var_os("XDG_DATA_HOME") {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join(".local/share"),
                _ => std::env::temp_dir(),
            },
        };
        base.join("semrec").join("postgres")
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self::new(Self::default_data_dir())
    }
}
