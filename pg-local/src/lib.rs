//! A PostgreSQL cluster that semrec starts and manages itself.
//!
//! Used in two ways:
//! - the embedded default database when no `DATABASE_URL` is given
//!   ([`LocalCluster::start`] with a persistent data directory; data survives restarts);
//! - throwaway clusters for integration tests, the evaluation and the benchmarks
//!   ([`LocalCluster::temporary`]; a fresh cluster in a temp directory on a free
//!   port, deleted when stopped or dropped).
//!
//! The cluster listens on 127.0.0.1 only, keeps its unix socket inside the data
//! directory, and has one superuser (`semrec`) whose random password lives in a 0600
//! file inside the data directory. PostgreSQL refuses to run as root, so when semrec
//! runs as root every PostgreSQL program is run as the `postgres` system user
//! through `runuser`, and the data directory is handed to that user.
//!
//! Several processes may share one cluster (two lock files beside its data
//! directory); the server keeps it running
//! when its postmaster dies ([`Supervisor`]).

mod cluster;
mod data_dir;
mod database;
mod error;
mod initdb;
mod lock;
mod options;
mod postmaster;
mod replica;
mod runner;
mod settings;
mod start;
mod stop;
mod supervisor;
mod template;

pub use cluster::LocalCluster;
pub use error::ClusterError;
pub use options::{
    ClusterOptions, BIN_DIR_ENV, DEFAULT_BIN_DIR, LOG_FILE, NO_TEMPLATE_ENV, PASSWORD_FILE,
    SERVICE_USER, SETTINGS_FILE, SUPERUSER,
};
pub use supervisor::Supervisor;
