//! The collaborative model while serving: interactions loaded from a file (the CLI
//! and the demo's first start) and the background refresh that refits a stale model
//! (on one instance at a time, under a lease).

use anyhow::{Context, Result};
use engine::catalog::ImportFormat;
use engine::interactions::{parse_interactions, InteractionImportSummary};
use engine::leased_job::LeasedJob;
use engine::Engine;
use std::path::Path;

/// Imports the interactions of a JSONL or CSV file (format from its name), logging
/// progress; rejected lines are in the summary.
pub async fn import_file(engine: &Engine, path: &Path) -> Result<InteractionImportSummary> {
    let name = path.to_string_lossy().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
    let parsed = parse_interactions(
        std::io::BufReader::new(file),
        ImportFormat::from_name(&name),
    )
    .with_context(|| format!("cannot read {name}"))?;
    let mut last = std::time::Instant::now();
    let summary = engine
        .import_interactions(parsed, |p| {
            if last.elapsed().as_secs() >= 5 || p.done == p.total {
                last = std::time::Instant::now();
                tracing::info!("imported {}/{} interactions", p.done, p.total);
            }
        })
        .await?;
    Ok(summary)
}

/// The refresh's job name in `job_leases`.
pub const JOB: &str = "collaborative_refresh";

/// Refits the model when interactions arrived since the last fit (or none was
/// fitted), checking every `job.every`, on whichever instance holds the job's
/// lease. Failures are logged and retried next time.
pub fn spawn_refresh(engine: Engine, job: LeasedJob) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let store = engine.store.clone();
        job.run_forever(store, || refresh_if_stale(engine.clone()))
            .await
    })
}

async fn refresh_if_stale(engine: Engine) {
    match engine.collaborative_is_stale().await {
        Ok(true) => {
            if let Err(e) = engine.refresh_collaborative().await {
                tracing::warn!("refitting the collaborative model: {e}");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!("checking the collaborative model: {e}"),
    }
}
