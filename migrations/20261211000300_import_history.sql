-- One row per catalogue or interactions import, whoever ran it: the admin page
-- lists them newest first. A browser import sent in parts is one row (the parts
-- add their counts to it).
CREATE TABLE import_history (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    via        TEXT NOT NULL CHECK (via IN ('cli', 'api', 'web', 'start')),
    actor      TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    kind       TEXT NOT NULL CHECK (kind IN ('catalogue', 'interactions')),
    added      BIGINT NOT NULL DEFAULT 0 CHECK (added >= 0),
    updated    BIGINT NOT NULL DEFAULT 0 CHECK (updated >= 0),
    unchanged  BIGINT NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    rejected   BIGINT NOT NULL DEFAULT 0 CHECK (rejected >= 0)
);
CREATE INDEX import_history_newest ON import_history (at DESC, id DESC);
