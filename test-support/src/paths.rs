//! Where the workspace, the model and the fixtures are.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$SEMREC_MODEL_DIR`, else the workspace's `models/all-MiniLM-L6-v2`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"))
}

/// The small JSONL catalog the tests import (`engine/tests/fixtures/catalog.jsonl`).
pub fn fixture_catalog_path() -> PathBuf {
    workspace().join("engine/tests/fixtures/catalog.jsonl")
}
