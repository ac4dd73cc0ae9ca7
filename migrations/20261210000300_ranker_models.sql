-- The learned ranker online: models trained from logged impressions and clicks
-- (`semrec train`), versioned; each impression records the version that ranked it
-- and each shown item the features it was ranked by.

CREATE TABLE ranker_models (
    version      INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- engine::fusion::FusionWeights as JSON (the semantic score's weight is 1).
    weights      JSONB NOT NULL,
    method       TEXT NOT NULL,
    -- Lists and clicks it was trained and checked on, and the check's figures.
    report       JSONB NOT NULL,
    -- Set when it beat the model serving at the time on the latest impressions.
    activated_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ranker_models_activated ON ranker_models (activated_at) WHERE activated_at IS NOT NULL;

-- NULL: the model shipped with the build (`ranking::trained`) or weights set by hand.
ALTER TABLE impressions ADD COLUMN ranker_version INT REFERENCES ranker_models (version);

-- The features each shown item was ranked by (NULL for lists that are not ranked by
-- the ranker, e.g. "more like this").
ALTER TABLE impression_items
    ADD COLUMN f_semantic REAL,
    ADD COLUMN f_semantic_mean REAL,
    ADD COLUMN f_lexical REAL,
    ADD COLUMN f_collaborative REAL,
    ADD COLUMN f_popularity REAL;
