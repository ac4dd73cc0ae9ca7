-- Indexes a bulk import dropped so that it could build them once at the end instead
-- of inserting into them row by row. The definition is written in the transaction
-- that drops the index, so an interrupted import leaves this record and the next
-- start or import rebuilds the index from it (engine/src/bulk_load.rs).
CREATE TABLE deferred_indexes (
    name        TEXT PRIMARY KEY,
    definition  TEXT NOT NULL CHECK (definition LIKE 'CREATE INDEX %'),
    dropped_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
