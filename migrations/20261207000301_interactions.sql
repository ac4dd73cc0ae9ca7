-- What users did with items, imported (`semrec import-interactions`, POST
-- /api/v1/interactions) or recorded: the collaborative model learns from these.
-- They are not impressions or clicks and never count in the dashboard's rates.
-- `user_ref` is the caller's user id (a semrec user's handle for its own users), so
-- interactions can be loaded before, or without, semrec profiles.
CREATE TABLE interactions (
    id          BIGSERIAL PRIMARY KEY,
    user_ref    TEXT NOT NULL
                CHECK (length(user_ref) BETWEEN 1 AND 200 AND user_ref = btrim(user_ref)),
    item_id     BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('consumed', 'rated', 'clicked', 'dismissed')),
    ts          TIMESTAMPTZ NOT NULL,
    -- The rating for 'rated', else 1. NaN fails the range check.
    weight      REAL NOT NULL DEFAULT 1 CHECK (weight BETWEEN -1000 AND 1000),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Re-importing a file adds nothing: the same event is the same row.
    UNIQUE (user_ref, item_id, kind, ts)
);
CREATE INDEX interactions_item ON interactions (item_id);

-- Each fitted collaborative model: what it was fitted on and when (staleness).
CREATE TABLE collaborative_models (
    version       BIGSERIAL PRIMARY KEY,
    algorithm     TEXT NOT NULL CHECK (algorithm IN ('ease', 'item_knn')),
    params        JSONB NOT NULL DEFAULT '{}'::jsonb,
    users         INT NOT NULL CHECK (users >= 0),
    items         INT NOT NULL CHECK (items >= 0),
    pairs         BIGINT NOT NULL CHECK (pairs >= 0),
    neighbours    BIGINT NOT NULL CHECK (neighbours >= 0),
    -- The newest interaction id it saw: a larger one means the model is stale.
    last_interaction_id  BIGINT NOT NULL DEFAULT 0,
    seconds       REAL NOT NULL CHECK (seconds >= 0),
    fitted_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The active model's top-N neighbours per item: the collaborative channel reads the
-- rows of a user's history items and sums the weights per neighbour.
CREATE TABLE item_neighbours (
    item_id        BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    neighbour_id   BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    weight         REAL NOT NULL,
    model_version  BIGINT NOT NULL REFERENCES collaborative_models (version) ON DELETE CASCADE,
    PRIMARY KEY (item_id, neighbour_id)
);
CREATE INDEX item_neighbours_neighbour ON item_neighbours (neighbour_id);
