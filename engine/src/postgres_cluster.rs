//! A PostgreSQL cluster that semrec starts and manages itself.
//!
//! Used in two ways:
//! - the embedded default database when no `DATABASE_URL` is given
//!   ([`LocalCluster::start`] with a persistent data directory; data survives restarts);
//! - throwaway clusters for integration tests ([`LocalCluster::temporary`]; a fresh
//!   cluster in a temp directory on a free port, deleted when stopped or dropped).
//!
//! The cluster listens on 127.0.0.1 only, keeps its unix socket inside the data
//! directory, and has one superuser (`semrec`) whose random password lives in a 0600
//! file inside the data directory. PostgreSQL refuses to run as root, so when semrec
//! runs as root every PostgreSQL program is run as the `postgres` system user
//! through `runuser`, and the data directory is handed to that user.

use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::postgres_lock::{DecisionLock, UseLock};
use crate::postgres_postmaster::{
    check_port_free, free_port, live_postmaster, running_server, start_server,
};

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

const REQUIRED_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
pub(crate) const START_TIMEOUT_SECS: u32 = 120;
/// Set (non-empty) to make every temporary cluster run its own initdb.
pub const NO_TEMPLATE_ENV: &str = "SEMREC_PG_NO_TEMPLATE";
/// Bump when the layout init_cluster produces changes, to retire old templates.
const TEMPLATE_FORMAT: u32 = 1;
const STOP_TIMEOUT_SECS: u32 = 60;
/// Linux limit for a unix socket path (sun_path is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

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

/// Why a local cluster could not be started, prepared or stopped.
/// Each message says what happened and what to do about it, on one line.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) not found in {} — install postgresql-15 (scripts/setup.sh does) or set SEMREC_PG_BIN to the directory that holds them",
        bin_dir.display()
    )]
    PostgresNotInstalled { bin_dir: PathBuf },

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
fn one_line(log: &str) -> String {
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

/// A running PostgreSQL cluster this process uses (and may share with other semrec
/// processes: [`crate::postgres_lock`]).
///
/// Stop it with [`LocalCluster::stop`]; dropping it stops it too (synchronously, best
/// effort). Either stops the postmaster only when no other semrec process uses it
/// and a semrec process started it. A temporary cluster's directory is deleted
/// when it stops.
#[derive(Debug)]
pub struct LocalCluster {
    data_dir: PathBuf,
    port: u16,
    database: String,
    password: String,
    url: String,
    runner: Runner,
    /// For temporary clusters: the directory to delete after stopping.
    temp_root: Option<PathBuf>,
    stopped: bool,
    /// This process's claim on the cluster, held while it uses it.
    claim: Option<UseLock>,
    /// Throwaway (test) cluster settings: no fsync.
    ephemeral: bool,
    /// Major version of the server programs, for the log when (re)starting.
    bin_major: String,
}

impl LocalCluster {
    /// Starts (initialising on first use) the cluster in `opts.data_dir`, waits until it
    /// accepts connections, creates `opts.database` if missing and runs
    /// `CREATE EXTENSION IF NOT EXISTS vector` in it.
    ///
    /// If a cluster is already running in `opts.data_dir` (the web server's, while a
    /// CLI command runs, or one a crashed semrec left) it is reused when it listens on
    /// the requested port (or `opts.port` is 0); on another port it is restarted,
    /// unless another semrec process uses it ([`ClusterError::RunningOnAnotherPort`]).
    /// Concurrent starts in several processes wait for each other: one starts the
    /// postmaster, the others reuse it.
    pub async fn start(opts: ClusterOptions) -> Result<Self, ClusterError> {
        Self::start_inner(opts, None).await
    }

    /// A fresh cluster in a new temp directory (under `$TMPDIR` or `/tmp`) on a free
    /// port, tuned for speed (fsync off). Database `semrec`. Deleted when stopped or
    /// dropped.
    pub async fn temporary() -> Result<Self, ClusterError> {
        let runner = Runner::new(ClusterOptions::default_bin_dir())?;
        let root = make_temp_root(&runner).await?;
        let data_dir = root.join("data");
        if std::env::var_os(NO_TEMPLATE_ENV).is_none_or(|v| v.is_empty()) {
            if let Err(e) = copy_template(&runner, &root, &data_dir).await {
                tracing::warn!(error = %e, "could not use the cached initdb template; running initdb");
                let _ = std::fs::remove_dir_all(&data_dir);
            }
        }
        let mut opts = ClusterOptions::new(data_dir);
        opts.bin_dir = runner.bin_dir.clone();
        match Self::start_inner(opts, Some(root.clone())).await {
            Ok(c) => Ok(c),
            Err(e) => {
                // Once the cluster value exists its Drop cleans up; before that we do.
                if root.exists() {
                    let _ = std::fs::remove_dir_all(&root);
                }
                Err(e)
            }
        }
    }

    /// `postgres://semrec:PASSWORD@127.0.0.1:PORT/DATABASE`
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The TCP port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database named in [`LocalCluster::database_url`].
    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    pub(crate) fn bin_major(&self) -> &str {
        &self.bin_major
    }

    /// URL of another database in the same cluster (as the same superuser).
    pub fn database_url_for(&self, database: &str) -> String {
        make_url(&self.password, self.port, database)
    }

    /// Lets go of the cluster without stopping it, and of this process's claim on
    /// it, as a process that died would (for tests of what the next one finds).
    #[doc(hidden)]
    pub fn abandon(mut self) {
        self.stopped = true;
        self.claim = None;
        self.temp_root = None;
    }

    /// Fast, clean shutdown (`pg_ctl stop -m fast`), waiting until the server is
    /// gone, when this is the last semrec process using the cluster and a semrec
    /// process started it; otherwise it is left running. A temporary cluster's
    /// directory is deleted afterwards.
    pub async fn stop(mut self) -> Result<(), ClusterError> {
        self.stopped = true;
        let decision = DecisionLock::acquire(&self.data_dir).await?;
        let result = match self.reason_to_leave(&decision) {
            Some(reason) => {
                tracing::info!(data_dir = %self.data_dir.display(), "leaving PostgreSQL running: {reason}");
                Ok(())
            }
            None => {
                let started = Instant::now();
                let out = self
                    .runner
                    .pg_ctl_stop_async(&self.data_dir)
                    .await
                    .map_err(io_err("could not run pg_ctl stop"))?;
                self.stopped_by(&decision, &out, started)
            }
        };
        drop(decision);
        if let Some(root) = self.temp_root.take() {
            let remove = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&root))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if let Err(e) = remove {
                tracing::warn!(error = %e, "could not remove the temporary cluster's directory");
            }
        }
        result
    }

    /// Ends this process's claim; why the postmaster must keep running, if it must.
    /// Call it under the decision lock.
    fn reason_to_leave(&mut self, decision: &DecisionLock) -> Option<&'static str> {
        if !self.claim.take().is_none_or(UseLock::release_last) {
            return Some("another semrec process still uses it");
        }
        match running_server(&self.data_dir) {
            None => Some("it is not running any more"),
            Some(s) if decision.started_postmaster() != Some(s.pid) => {
                Some("semrec did not start it (started by hand?)")
            }
            Some(_) => None,
        }
    }

    /// Checks a `pg_ctl stop`'s outcome and records that no postmaster runs.
    fn stopped_by(
        &self,
        decision: &DecisionLock,
        out: &Output,
        started: Instant,
    ) -> Result<(), ClusterError> {
        if !out.status.success() && running_server(&self.data_dir).is_some() {
            return Err(ClusterError::Io {
                context: format!(
                    "pg_ctl stop failed for {}: {}",
                    self.data_dir.display(),
                    one_line(&output_text(out))
                ),
                source: std::io::Error::other("server still running"),
            });
        }
        decision.record_started(None);
        tracing::info!(
            data_dir = %self.data_dir.display(),
            port = self.port,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "PostgreSQL stopped"
        );
        Ok(())
    }

    async fn start_inner(
        opts: ClusterOptions,
        temp_root: Option<PathBuf>,
    ) -> Result<Self, ClusterError> {
        let started = Instant::now();
        let ephemeral = temp_root.is_some();
        let runner = Runner::new(opts.bin_dir.clone())?;
        let bin_major = runner.server_major_version().await?;
        if opts.database.is_empty() || opts.database.contains('\0') {
            return Err(ClusterError::DataDirUnusable {
                data_dir: opts.data_dir,
                reason: "the database name is empty or contains a NUL byte — choose another database name".into(),
            });
        }

        let data_dir = prepare_data_dir(&runner, &opts.data_dir).await?;
        // One process at a time decides whether to start it; the others then find
        // it running and reuse it.
        let decision = DecisionLock::acquire(&data_dir).await?;
        let (claim, sole) = UseLock::claim(&data_dir)?;
        let initialised = data_dir.join("PG_VERSION").exists();
        if initialised {
            check_existing_cluster(&data_dir, &bin_major)?;
        } else {
            ensure_empty(&data_dir)?;
        }

        // A server already running in this data directory (another semrec
        // process's, or one a crash left)?
        let mut reuse_port = None;
        if initialised {
            if let Some(info) = running_server(&data_dir) {
                if opts.port == 0 || opts.port == info.port {
                    tracing::info!(
                        data_dir = %data_dir.display(), pid = info.pid, port = info.port,
                        "PostgreSQL is already running in this data directory; reusing it"
                    );
                    reuse_port = Some(info.port);
                } else if !sole {
                    return Err(ClusterError::RunningOnAnotherPort {
                        data_dir,
                        running: info.port,
                        wanted: opts.port,
                    });
                } else {
                    tracing::warn!(
                        data_dir = %data_dir.display(), pid = info.pid, running_port = info.port,
                        wanted_port = opts.port,
                        "PostgreSQL is already running in this data directory on another port, used by no other semrec process; restarting it"
                    );
                    let out = runner
                        .pg_ctl_stop_async(&data_dir)
                        .await
                        .map_err(io_err("could not run pg_ctl stop"))?;
                    if !out.status.success() && running_server(&data_dir).is_some() {
                        return Err(ClusterError::StartFailed {
                            log_tail: format!(
                                "could not stop the PostgreSQL already running in {} (pid {}): {}",
                                data_dir.display(),
                                info.pid,
                                output_text(&out)
                            ),
                        });
                    }
                    decision.record_started(None);
                }
            }
        }

        let (port, password) = match reuse_port {
            Some(port) => (port, read_password(&data_dir)?),
            None => {
                let auto_port = opts.port == 0;
                let port = if auto_port {
                    free_port()?
                } else {
                    check_port_free(opts.port)?;
                    opts.port
                };
                let password = if initialised {
                    read_password(&data_dir)?
                } else {
                    let init_started = Instant::now();
                    let pw =
                        init_cluster(&runner, &data_dir, temp_root.as_deref(), ephemeral).await?;
                    tracing::info!(
                        data_dir = %data_dir.display(),
                        elapsed_ms = init_started.elapsed().as_millis() as u64,
                        "initialised a new PostgreSQL cluster"
                    );
                    pw
                };
                let port = start_server(&runner, &data_dir, port, auto_port, ephemeral, &bin_major)
                    .await?;
                decision.record_started(live_postmaster(&data_dir).map(|s| s.pid));
                (port, password)
            }
        };

        let cluster = LocalCluster {
            url: make_url(&password, port, &opts.database),
            data_dir,
            port,
            database: opts.database,
            password,
            runner,
            temp_root,
            stopped: false,
            claim: Some(claim),
            ephemeral,
            bin_major,
        };
        // Under the decision lock: two processes creating the database at once
        // collide in the catalog. On an error `cluster` is dropped, which stops
        // the server again, after the lock is released (its drop takes it too).
        let prepared = cluster.prepare_database().await;
        drop(decision);
        prepared?;
        tracing::info!(
            data_dir = %cluster.data_dir.display(),
            port = cluster.port,
            database = %cluster.database,
            temporary = ephemeral,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "local PostgreSQL cluster ready"
        );
        Ok(cluster)
    }

    /// Creates the database if missing and the vector extension in it.
    async fn prepare_database(&self) -> Result<(), ClusterError> {
        let mut admin = connect_with_retry(&self.database_url_for("postgres")).await?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&self.database)
                .fetch_optional(&mut admin)
                .await?;
        if exists.is_none() {
            let sql = format!("CREATE DATABASE {}", quote_ident(&self.database));
            match sqlx::query(&sql).execute(&mut admin).await {
                Ok(_) => tracing::info!(database = %self.database, "created database"),
                // Someone else created it at the same moment.
                Err(e) if matches!(sql_state(&e).as_deref(), Some("42P04" | "23505")) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _ = admin.close().await;

        let mut conn = connect_with_retry(&self.url).await?;
        let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if is_missing_extension(&e) => {
                tracing::error!(error = %e, "CREATE EXTENSION vector failed: pgvector is not installed");
                Err(ClusterError::PgvectorMissing)
            }
            // Concurrent CREATE EXTENSION from another process.
            Err(e) if sql_state(&e).as_deref() == Some("23505") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        match DecisionLock::acquire_blocking(&self.data_dir) {
            Ok(decision) => match self.reason_to_leave(&decision) {
                Some(reason) => {
                    tracing::info!(data_dir = %self.data_dir.display(), "leaving PostgreSQL running (dropped): {reason}")
                }
                None => {
                    let started = Instant::now();
                    match self.runner.pg_ctl_stop_blocking(&self.data_dir) {
                        Ok(out) => {
                            if let Err(e) = self.stopped_by(&decision, &out, started) {
                                tracing::warn!("while dropping the cluster: {e}");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not run pg_ctl stop while dropping the cluster")
                        }
                    }
                }
            },
            Err(e) => tracing::warn!("not stopping PostgreSQL while dropping the cluster: {e}"),
        }
        if let Some(root) = self.temp_root.take() {
            if let Err(e) = std::fs::remove_dir_all(&root) {
                tracing::warn!(error = %e, dir = %root.display(), "could not remove the temporary cluster's directory");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running PostgreSQL programs (as the postgres user when we are root)

#[derive(Debug, Clone)]
struct ServiceUser {
    uid: u32,
    gid: u32,
    runuser: PathBuf,
}

#[derive(Debug, Clone)]
pub(crate) struct Runner {
    bin_dir: PathBuf,
    /// Set when we are root: run everything as this user.
    service: Option<ServiceUser>,
}

impl Runner {
    fn new(bin_dir: PathBuf) -> Result<Self, ClusterError> {
        let missing = REQUIRED_PROGRAMS.iter().any(|p| {
            std::fs::metadata(bin_dir.join(p))
                .map(|m| !m.is_file() || m.permissions().mode() & 0o111 == 0)
                .unwrap_or(true)
        });
        if missing {
            return Err(ClusterError::PostgresNotInstalled { bin_dir });
        }
        let service = if is_root() {
            let (uid, gid) = lookup_user(SERVICE_USER).ok_or(ClusterError::NoServiceUser)?;
            let runuser = [
                "/usr/sbin/runuser",
                "/sbin/runuser",
                "/usr/bin/runuser",
                "/bin/runuser",
            ]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("runuser"));
            Some(ServiceUser { uid, gid, runuser })
        } else {
            None
        };
        Ok(Self { bin_dir, service })
    }

    /// A command running `program` (a PostgreSQL program from bin_dir, or an absolute
    /// path) as the cluster's OS user.
    fn std_command(&self, program: &str) -> std::process::Command {
        let exe = if program.starts_with('/') {
            PathBuf::from(program)
        } else {
            self.bin_dir.join(program)
        };
        let mut cmd = match &self.service {
            Some(s) => {
                let mut c = std::process::Command::new(&s.runuser);
                c.args(["-u", SERVICE_USER, "--"]).arg(exe);
                c
            }
            None => std::process::Command::new(exe),
        };
        // The postgres user may not be able to enter our working directory (e.g. /root).
        cmd.current_dir("/");
        for var in [
            "PGDATA",
            "PGPORT",
            "PGHOST",
            "PGHOSTADDR",
            "PGUSER",
            "PGPASSWORD",
            "PGOPTIONS",
            "PGDATABASE",
            "PGSERVICE",
            "PGTZ",
            "PGCLIENTENCODING",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub(crate) fn command(&self, program: &str) -> tokio::process::Command {
        tokio::process::Command::from(self.std_command(program))
    }

    async fn server_major_version(&self) -> Result<String, ClusterError> {
        let line = self.server_version_line().await?;
        // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
        let version = line
            .split(") ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|v| v.split('.').next().unwrap_or(v).to_owned());
        match version {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
            }),
        }
    }

    /// Output of `postgres -V`.
    async fn server_version_line(&self) -> Result<String, ClusterError> {
        // `postgres -V` is allowed as root; no need for runuser.
        let out = tokio::process::Command::new(self.bin_dir.join("postgres"))
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|_| ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
            })?;
        if !out.status.success() {
            return Err(ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The uid that owns the cluster's files.
    fn owner_uid(&self) -> u32 {
        match &self.service {
            Some(s) => s.uid,
            // SAFETY: geteuid has no preconditions and cannot fail.
            None => unsafe { libc::geteuid() },
        }
    }

    fn pg_ctl_stop_args(data_dir: &Path) -> Vec<std::ffi::OsString> {
        vec![
            "stop".into(),
            "-D".into(),
            data_dir.into(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
            "-t".into(),
            STOP_TIMEOUT_SECS.to_string().into(),
        ]
    }

    pub(crate) async fn pg_ctl_stop_async(&self, data_dir: &Path) -> std::io::Result<Output> {
        self.command("pg_ctl")
            .args(Self::pg_ctl_stop_args(data_dir))
            .output()
            .await
    }

    fn pg_ctl_stop_blocking(&self, data_dir: &Path) -> std::io::Result<Output> {
        self.std_command("pg_ctl")
            .args(Self::pg_ctl_stop_args(data_dir))
            .output()
    }

    /// Whether the cluster's OS user can read, write and enter `dir`.
    async fn can_use_dir(&self, dir: &Path, flags: &[&str]) -> bool {
        let mut cmd = self.command(&system_tool("test"));
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                cmd.arg("-a");
            }
            cmd.arg(f).arg(dir);
        }
        matches!(cmd.output().await, Ok(o) if o.status.success())
    }

    fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(s) = &self.service {
            std::os::unix::fs::chown(path, Some(s.uid), Some(s.gid)).map_err(io_err(format!(
                "could not chown {} to {SERVICE_USER}",
                path.display()
            )))?;
        }
        Ok(())
    }
}

pub(crate) fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.trim().is_empty() {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&err);
    }
    s
}

/// `/usr/bin/NAME`, or `/bin/NAME` on systems without a merged /usr.
fn system_tool(name: &str) -> String {
    let usr = format!("/usr/bin/{name}");
    if Path::new(&usr).exists() {
        usr
    } else {
        format!("/bin/{name}")
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// uid and gid of a system user.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into
    // `buf`, which outlives every use; we read only the numeric fields.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        debug_assert_eq!(CStr::from_ptr(pwd.pw_name).to_bytes(), name.as_bytes());
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

// ---------------------------------------------------------------------------
// Data directory

/// Creates the data directory if needed, makes it the cluster user's and private,
/// checks that user can reach it, and returns its canonical path.
async fn prepare_data_dir(runner: &Runner, requested: &Path) -> Result<PathBuf, ClusterError> {
    std::fs::create_dir_all(requested).map_err(io_err(format!(
        "could not create the data directory {}",
        requested.display()
    )))?;
    let data_dir = std::fs::canonicalize(requested).map_err(io_err(format!(
        "could not resolve the data directory {}",
        requested.display()
    )))?;
    let meta = std::fs::metadata(&data_dir).map_err(io_err(format!(
        "could not read the data directory {}",
        data_dir.display()
    )))?;
    if let Some(s) = &runner.service {
        if meta.uid() != s.uid {
            runner.chown(&data_dir)?;
        }
    }
    // PostgreSQL insists on 0700 (or 0750) for its data directory.
    if meta.permissions().mode() & 0o027 != 0 {
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).map_err(
            io_err(format!("could not chmod 0700 {}", data_dir.display())),
        )?;
    }
    if runner.service.is_some() && !runner.can_use_dir(&data_dir, &["-r", "-w", "-x"]).await {
        let mut blocking = None;
        for anc in data_dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if !runner.can_use_dir(anc, &["-x"]).await {
                blocking = Some(anc.to_path_buf());
                break;
            }
        }
        let reason = match blocking {
            Some(anc) => {
                let mode = std::fs::metadata(&anc)
                    .map(|m| format!("{:o}", m.permissions().mode() & 0o7777))
                    .unwrap_or_else(|_| "?".into());
                format!(
                    "PostgreSQL runs as the '{SERVICE_USER}' user (it refuses to run as root) and that user cannot enter {} (mode {mode}) — choose a data directory it can reach, e.g. /var/lib/semrec/postgres, or allow traversal (chmod o+x {})",
                    anc.display(),
                    anc.display()
                )
            }
            None => format!(
                "the '{SERVICE_USER}' user (PostgreSQL refuses to run as root) cannot read and write it — choose a data directory that user can reach, e.g. /var/lib/semrec/postgres"
            ),
        };
        return Err(ClusterError::DataDirUnusable { data_dir, reason });
    }
    Ok(data_dir)
}

fn ensure_empty(data_dir: &Path) -> Result<(), ClusterError> {
    let mut entries = std::fs::read_dir(data_dir).map_err(io_err(format!(
        "could not list the data directory {}",
        data_dir.display()
    )))?;
    if entries.next().is_some() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: "it is not empty but holds no PostgreSQL cluster (no PG_VERSION; maybe an earlier initdb was interrupted) — empty it or choose another directory".into(),
        });
    }
    Ok(())
}

fn check_existing_cluster(data_dir: &Path, bin_major: &str) -> Result<(), ClusterError> {
    let version = std::fs::read_to_string(data_dir.join("PG_VERSION")).map_err(io_err(format!(
        "could not read {}/PG_VERSION",
        data_dir.display()
    )))?;
    let version = version.trim();
    if version != bin_major {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "it holds a PostgreSQL {version} cluster but the server programs are PostgreSQL {bin_major} — set SEMREC_PG_BIN to PostgreSQL {version}'s bin directory, or upgrade the cluster with pg_upgrade"
            ),
        });
    }
    if !data_dir.join(PASSWORD_FILE).exists() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "it holds a PostgreSQL cluster that semrec did not create ({PASSWORD_FILE} is missing) — point semrec at that cluster with DATABASE_URL, or choose another (empty) data directory"
            ),
        });
    }
    Ok(())
}

fn read_password(data_dir: &Path) -> Result<String, ClusterError> {
    let path = data_dir.join(PASSWORD_FILE);
    let pw = std::fs::read_to_string(&path)
        .map_err(io_err(format!("could not read {}", path.display())))?;
    let pw = pw.trim().to_owned();
    if pw.is_empty() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "{PASSWORD_FILE} is empty — restore it or start over with an empty data directory"
            ),
        });
    }
    Ok(pw)
}

/// Writes `contents` to a new file with mode 0600, owned by the cluster's OS user.
pub(crate) fn write_private_file(
    runner: &Runner,
    path: &Path,
    contents: &str,
) -> Result<(), ClusterError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("could not create {}", path.display())))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|_| f.write_all(contents.as_bytes()))
        .and_then(|_| f.sync_all())
        .map_err(io_err(format!("could not write {}", path.display())))?;
    runner.chown(path)
}

fn random_token(len: usize) -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Picks a temp base the cluster's OS user can reach and creates a fresh private
/// directory in it (owned by that user).
async fn make_temp_root(runner: &Runner) -> Result<PathBuf, ClusterError> {
    let mut bases = vec![std::env::temp_dir()];
    if !bases.contains(&PathBuf::from("/tmp")) {
        bases.push(PathBuf::from("/tmp"));
    }
    for (i, base) in bases.iter().enumerate() {
        let last = i + 1 == bases.len();
        if runner.service.is_some() && !last && !runner.can_use_dir(base, &["-x"]).await {
            tracing::debug!(base = %base.display(), "temp dir not reachable by the postgres user; trying /tmp");
            continue;
        }
        let root = base.join(format!("semrec-pg-{}", random_token(12).to_lowercase()));
        match std::fs::create_dir_all(base).and_then(|_| std::fs::create_dir(&root)) {
            Ok(()) => {
                std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_err(format!("could not chmod {}", root.display())))?;
                runner.chown(&root)?;
                return Ok(root);
            }
            Err(e) if last => {
                return Err(ClusterError::Io {
                    context: format!(
                        "could not create a temporary directory in {}",
                        base.display()
                    ),
                    source: e,
                })
            }
            Err(_) => continue,
        }
    }
    unreachable!("the last candidate either returns Ok or an error")
}

/// initdb is most of a temporary cluster's start-up (about 1.5 s) and gives the same
/// result every time, so temporary clusters copy a cached initdb result, made once
/// per temp dir, OS user and PostgreSQL build (`semrec-pg-template-HASH`). All
/// temporary clusters made from one template share its superuser password, which
/// is fine for throwaway clusters that only listen on 127.0.0.1.
async fn copy_template(runner: &Runner, root: &Path, data_dir: &Path) -> Result<(), ClusterError> {
    let base = root.parent().unwrap_or(Path::new("/tmp"));
    let template = cached_template(runner, base).await?;
    let out = runner
        .command(&system_tool("cp"))
        .arg("-a")
        .arg(template.join("."))
        .arg(data_dir)
        .output()
        .await
        .map_err(io_err("could not run cp"))?;
    if !out.status.success() {
        return Err(ClusterError::Io {
            context: format!(
                "could not copy {} to {}: {}",
                template.display(),
                data_dir.display(),
                one_line(&output_text(&out))
            ),
            source: std::io::Error::other("cp failed"),
        });
    }
    Ok(())
}

/// Returns the template for this machine's PostgreSQL, making it if needed.
async fn cached_template(runner: &Runner, base: &Path) -> Result<PathBuf, ClusterError> {
    use sha2::{Digest, Sha256};
    // One initdb at a time in this process; other processes racing us are handled
    // by the atomic rename below.
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = LOCK.lock().await;

    let version = runner.server_version_line().await?;
    let mut hasher = Sha256::new();
    hasher.update(runner.bin_dir.as_os_str().as_encoded_bytes());
    hasher.update(b"\0");
    hasher.update(version.as_bytes());
    hasher.update(b"\0");
    hasher.update(runner.owner_uid().to_le_bytes());
    hasher.update(settings(Path::new("/"), 0, true).as_bytes());
    hasher.update(TEMPLATE_FORMAT.to_le_bytes());
    let key = hex::encode(&hasher.finalize()[..8]);
    let template = base.join(format!("semrec-pg-template-{key}"));
    if template_usable(runner, &template) {
        return Ok(template);
    }

    let started = Instant::now();
    let work = make_temp_root(runner).await?;
    let result = async {
        let data = work.join("data");
        std::fs::create_dir(&data)
            .and_then(|_| std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)))
            .map_err(io_err(format!("could not create {}", data.display())))?;
        runner.chown(&data)?;
        init_cluster(runner, &data, Some(&work), true).await?;
        match std::fs::rename(&data, &template) {
            Ok(()) => Ok(()),
            // Another process finished first.
            Err(_) if template_usable(runner, &template) => Ok(()),
            Err(e) => Err(ClusterError::Io {
                context: format!(
                    "could not move the initdb template to {}",
                    template.display()
                ),
                source: e,
            }),
        }
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    result?;
    tracing::info!(
        template = %template.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cached an initdb template for temporary clusters"
    );
    Ok(template)
}

/// A complete template (it only appears by rename once complete), owned by the
/// cluster's OS user and private to it (so no other user can plant one).
fn template_usable(runner: &Runner, template: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(template) else {
        return false;
    };
    meta.is_dir()
        && meta.uid() == runner.owner_uid()
        && meta.permissions().mode() & 0o077 == 0
        && template.join("PG_VERSION").is_file()
        && template.join(PASSWORD_FILE).is_file()
        && template.join("global/pg_control").is_file()
}

/// Runs initdb; returns the new superuser's password (also saved in the data dir).
async fn init_cluster(
    runner: &Runner,
    data_dir: &Path,
    scratch: Option<&Path>,
    ephemeral: bool,
) -> Result<String, ClusterError> {
    let password = random_token(32);
    // initdb wants an empty data dir, so the password goes in through a temp file
    // elsewhere that only the cluster's OS user can read.
    let (pw_dir, remove_pw_dir) = match scratch {
        Some(dir) => (dir.to_path_buf(), false),
        None => (make_temp_root(runner).await?, true),
    };
    let pwfile = pw_dir.join("initdb.pw");
    let result = async {
        write_private_file(runner, &pwfile, &password)?;
        let locale = if Path::new("/usr/lib/locale/C.utf8").exists()
            || Path::new("/usr/lib/locale/C.UTF-8").exists()
        {
            "C.UTF-8"
        } else {
            "C"
        };
        let out = runner
            .command("initdb")
            .arg("-D")
            .arg(data_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--encoding=UTF8", &format!("--locale={locale}")])
            // A throwaway cluster need not wait for its files to reach the disk.
            .args(if ephemeral {
                &["--no-sync"][..]
            } else {
                &[][..]
            })
            .output()
            .await
            .map_err(io_err("could not run initdb"))?;
        if !out.status.success() {
            return Err(ClusterError::InitFailed {
                log: output_text(&out),
            });
        }
        Ok(())
    }
    .await;
    let _ = std::fs::remove_file(&pwfile);
    if remove_pw_dir {
        let _ = std::fs::remove_dir_all(&pw_dir);
    }
    result?;
    write_private_file(runner, &data_dir.join(PASSWORD_FILE), &password)?;

    // Include semrec's settings file (rewritten on every start). ALTER SYSTEM
    // (postgresql.auto.conf) is read later and still overrides it.
    let conf = data_dir.join("postgresql.conf");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .map_err(io_err(format!("could not open {}", conf.display())))?;
    writeln!(
        f,
        "\n# Added by semrec: its settings, rewritten on every start.\ninclude_if_exists = '{SETTINGS_FILE}'"
    )
    .map_err(io_err(format!("could not write {}", conf.display())))?;
    Ok(password)
}

pub(crate) fn settings(data_dir: &Path, port: u16, ephemeral: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by semrec on every start; edits here are overwritten."
    );
    let _ = writeln!(
        s,
        "# To override a setting use ALTER SYSTEM (postgresql.auto.conf)."
    );
    let _ = writeln!(s, "listen_addresses = '127.0.0.1'");
    let _ = writeln!(s, "port = {port}");
    let socket = data_dir.join(format!(".s.PGSQL.{port}"));
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        let _ = writeln!(
            s,
            "unix_socket_directories = '{}'",
            data_dir.display().to_string().replace('\'', "''")
        );
    } else {
        // The path is too long for a unix socket; TCP on 127.0.0.1 is all we use.
        let _ = writeln!(s, "unix_socket_directories = ''");
    }
    // Room for the server's pools (sized from its in-flight limit) and CLI commands.
    let _ = writeln!(s, "max_connections = 300");
    let _ = writeln!(s, "shared_buffers = 256MB");
    let _ = writeln!(s, "maintenance_work_mem = 512MB");
    if ephemeral {
        let _ = writeln!(s, "# Throwaway test cluster: speed over durability.");
        let _ = writeln!(s, "fsync = off");
        let _ = writeln!(s, "synchronous_commit = off");
        let _ = writeln!(s, "full_page_writes = off");
    } else {
        let _ = writeln!(s, "fsync = on");
        let _ = writeln!(s, "synchronous_commit = on");
        let _ = writeln!(s, "full_page_writes = on");
    }
    s
}

// ---------------------------------------------------------------------------
// SQL helpers

async fn connect_with_retry(url: &str) -> Result<PgConnection, ClusterError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match PgConnection::connect(url).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                // 57P03: the database system is starting up / shutting down.
                let retryable =
                    matches!(e, sqlx::Error::Io(_)) || sql_state(&e).as_deref() == Some("57P03");
                if !retryable || Instant::now() >= deadline {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// PostgreSQL 15 says `could not open extension control file ".../vector.control"`
/// (58P01); newer versions `extension "vector" is not available` (0A000).
fn is_missing_extension(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    (code == "58P01" || code == "0A000") && db.message().contains("vector")
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn make_url(password: &str, port: u16, database: &str) -> String {
    format!(
        "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{}",
        percent_encode(password),
        percent_encode(database)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_names() {
        assert_eq!(
            make_url("abc", 5432, "my db"),
            "postgres://semrec:abc@127.0.0.1:5432/my%20db"
        );
    }

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

    #[test]
    fn ephemeral_settings_trade_durability_for_speed() {
        let s = settings(Path::new("/tmp/x"), 5555, true);
        assert!(s.contains("fsync = off") && s.contains("port = 5555"));
        assert!(s.contains("unix_socket_directories = '/tmp/x'"));
        let s = settings(Path::new("/tmp/x"), 5555, false);
        assert!(s.contains("fsync = on"));
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(120)));
        assert!(settings(&long, 1, false).contains("unix_socket_directories = ''"));
    }
}
