//! Starting a cluster: initialise on first use, reuse a postmaster that already
//! runs in the data directory, or start one, under the decision lock.

use std::path::PathBuf;
use std::time::Instant;

use crate::cluster::LocalCluster;
use crate::data_dir::{check_existing_cluster, ensure_empty, prepare_data_dir, read_password};
use crate::database::make_url;
use crate::error::{io_err, ClusterError};
use crate::initdb::init_cluster;
use crate::lock::{DecisionLock, UseLock};
use crate::options::ClusterOptions;
use crate::postmaster::{
    check_port_free, free_port, live_postmaster, running_server, start_server,
};
use crate::runner::{output_text, Runner};

impl LocalCluster {
    pub(crate) async fn start_inner(
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
}
