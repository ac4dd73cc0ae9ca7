//! Catalog imports the server runs for its clients (the JSON API, the admin
//! page): a few at a time, each parsed on a blocking thread, so a large document
//! never holds up the async workers and concurrent ones cannot multiply the
//! memory they need. A caller takes its permit before it reads the document.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::catalog::{parse_import, ImportFormat, ImportSummary};
use crate::error::{EngineError, Result};
use crate::Engine;

/// Default of `SEMREC_MAX_IMPORTS`.
pub const DEFAULT_MAX_IMPORTS: usize = 1;

/// How many imports may run at once.
#[derive(Clone, Debug)]
pub struct ImportGate {
    permits: Arc<Semaphore>,
    max: usize,
}

/// The right to run one import; the slot frees when it is dropped.
#[derive(Debug)]
pub struct ImportPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl Default for ImportGate {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IMPORTS)
    }
}

impl ImportGate {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A permit, or [`EngineError::TooManyImports`] at once: callers answer
    /// before they read (and hold) the document.
    pub fn try_enter(&self) -> Result<ImportPermit> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(ImportPermit)
            .map_err(|_| EngineError::TooManyImports { max: self.max })
    }
}

impl Engine {
    /// Parses `document` on a blocking thread and imports it, holding `permit`
    /// until done. Bad lines come back in the summary with their line numbers.
    pub async fn import_document<B>(
        &self,
        permit: ImportPermit,
        document: B,
        format: ImportFormat,
    ) -> Result<ImportSummary>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        let parsed = tokio::task::spawn_blocking(move || {
            parse_import(std::io::Cursor::new(document), format)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("parsing an import: {e}")))?
        .map_err(|e| EngineError::invalid("", format!("cannot read the import: {e}")))?;
        let summary = self.import_items(parsed, |_| {}).await;
        drop(permit);
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_up_to_its_limit() {
        let gate = ImportGate::new(2);
        let a = gate.try_enter().unwrap();
        let _b = gate.try_enter().unwrap();
        assert!(matches!(
            gate.try_enter(),
            Err(EngineError::TooManyImports { max: 2 })
        ));
        drop(a);
        assert!(gate.try_enter().is_ok());
    }
}
