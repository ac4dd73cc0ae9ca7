//! The collaborative model while serving: interactions loaded from a file (the CLI
//! and the demo's first start) and the background refresh that refits a stale model.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::catalog::ImportFormat;
use engine::interactions::{parse_interactions, InteractionImportSummary};
use engine::Engine;

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

/// Refits the model at once when interactions arrived since the last fit (or none was
/// fitted), then checks every `every`. Failures are logged and retried next time.
pub fn spawn_refresh(engine: Engine, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match engine.collaborative_is_stale().await {
                Ok(true) => {
                    if let Err(e) = engine.refresh_collaborative().await {
                        tracing::warn!("refitting the collaborative model: {e}");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("checking the collaborative model: {e}"),
            }
            tokio::time::sleep(every.max(Duration::from_secs(1))).await;
        }
    })
}
