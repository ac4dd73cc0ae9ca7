//! Loading the embedding model at start-up, with checks that give one clear line.

use std::path::Path;

use anyhow::{bail, Context, Result};
use engine::embed::{EmbeddingService, SentenceEmbedder};
use sha2::{Digest, Sha256};

use crate::config::Common;

/// Verifies the files listed in the folder's SHA256SUMS (written by scripts/fetch-model.sh).
fn verify_checksums(dir: &Path) -> Result<()> {
    let sums = dir.join("SHA256SUMS");
    let Ok(list) = std::fs::read_to_string(&sums) else {
        tracing::info!(
            "{} has no SHA256SUMS; skipping the integrity check",
            dir.display()
        );
        return Ok(());
    };
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let Some((want, file)) = line.split_once("  ") else {
            bail!("{} is malformed (line '{line}')", sums.display());
        };
        let path = dir.join(file.trim());
        let mut f = std::fs::File::open(&path).with_context(|| {
            format!(
                "model file {} is missing: run scripts/fetch-model.sh",
                path.display()
            )
        })?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut f, &mut hasher)?;
        if hex::encode(hasher.finalize()) != want.trim() {
            bail!(
                "model file {} has the wrong sha256: delete {} and run scripts/fetch-model.sh",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

pub async fn load(common: &Common) -> Result<EmbeddingService> {
    let dir = common.model_dir.clone();
    if !dir.join("config.json").exists() {
        bail!(
            "no model in {}: run scripts/fetch-model.sh (or set SEMREC_MODEL_DIR)",
            dir.display()
        );
    }
    let (queue, batch, precision) = (
        common.embed_queue,
        common.embed_batch,
        common.embed_precision,
    );
    tokio::task::spawn_blocking(move || -> Result<EmbeddingService> {
        verify_checksums(&dir)?;
        let started = std::time::Instant::now();
        let embedder = SentenceEmbedder::load_with_precision(&dir, precision).map_err(|e| anyhow::anyhow!("cannot load the model: {e}"))?;
        let dims = embedder.info().dims;
        if dims != engine::store::EMBEDDING_DIMS {
            // The vector columns are vector(384): every write would fail later.
            bail!(
                "the model in {} makes {dims}-dimensional vectors, but semrec stores {}-dimensional ones: use a {}-dimensional model such as all-MiniLM-L6-v2 or multilingual-e5-small",
                dir.display(),
                engine::store::EMBEDDING_DIMS,
                engine::store::EMBEDDING_DIMS
            );
        }
        tracing::info!(model = %embedder.info().id, dims, %precision, "model loaded in {:.2?}", started.elapsed());
        Ok(EmbeddingService::start(embedder, queue, batch))
    })
    .await?
}
