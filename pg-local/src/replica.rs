//! A streaming replica of a local cluster (`pg_basebackup -R`): for tests and
//! benchmarks of reads on a replica (`DATABASE_READ_URL`).

use std::path::Path;

use crate::cluster::LocalCluster;
use crate::data_dir::{ensure_empty, prepare_data_dir};
use crate::error::{io_err, ClusterError};
use crate::options::{ClusterOptions, SUPERUSER};
use crate::runner::output_text;

impl LocalCluster {
    /// Copies this cluster into the empty `data_dir` with `pg_basebackup -R -X
    /// stream` (the copy is a standby streaming from this one, over 127.0.0.1) and
    /// starts it on a free port. Its database and extensions are the primary's.
    pub async fn start_replica(&self, data_dir: &Path) -> Result<LocalCluster, ClusterError> {
        let runner = self.runner();
        let dir = prepare_data_dir(runner, data_dir).await?;
        ensure_empty(&dir)?;
        let out = runner
            .command("pg_basebackup")
            .args(["-h", "127.0.0.1", "-p", &self.port().to_string()])
            .args(["-U", SUPERUSER, "-D"])
            .arg(&dir)
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
            // The password goes to the child's environment, not its command line;
            // -R writes it into the standby's primary_conninfo.
            .env("PGPASSWORD", &self.password)
            .output()
            .await
            .map_err(io_err("could not run pg_basebackup"))?;
        if !out.status.success() {
            return Err(ClusterError::StartFailed {
                log_tail: format!("pg_basebackup failed: {}", output_text(&out)),
            });
        }
        let mut opts = ClusterOptions::new(dir);
        opts.bin_dir = runner.bin_dir.clone();
        opts.database = self.database().to_string();
        LocalCluster::start(opts).await
    }
}
