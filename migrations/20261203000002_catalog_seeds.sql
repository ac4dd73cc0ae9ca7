-- Catalogs semrec loads by itself on first start (the demo catalog). The row is
-- written before the import and completed after it, so a first start killed
-- mid-import is resumed by the next start instead of its partial catalog being
-- taken for a finished one (engine/src/seed.rs).
CREATE TABLE catalog_seeds (
    name          TEXT PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at  TIMESTAMPTZ
);
