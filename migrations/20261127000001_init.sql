-- semrec schema: catalog with embeddings, users and profiles, impressions and clicks.
-- Constraints keep bad data out at the database boundary too, not only in the app.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE items (
    id            BIGSERIAL PRIMARY KEY,
    external_id   TEXT NOT NULL UNIQUE
                  CHECK (length(external_id) BETWEEN 1 AND 200 AND external_id = btrim(external_id)),
    title         TEXT NOT NULL CHECK (length(btrim(title)) > 0 AND length(title) <= 500),
    description   TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    language      TEXT NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    source        TEXT NOT NULL DEFAULT '' CHECK (length(source) <= 100),
    tags          TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 100),
    url           TEXT CHECK (url IS NULL OR (url ~ '^https?://' AND length(url) <= 2000)),
    metadata      JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    -- The vector and the model that made it travel together: never one without the other.
    embedding     vector(384),
    model_id      TEXT,
    content_hash  TEXT NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    embedded_at   TIMESTAMPTZ,
    CHECK ((embedding IS NULL) = (model_id IS NULL))
);

-- Cosine distance, ascending = most similar first; the opclass must match `<=>`.
CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
CREATE INDEX items_language ON items (language);
CREATE INDEX items_source ON items (source);
CREATE INDEX items_tags ON items USING gin (tags);
CREATE INDEX items_title_lower ON items (lower(title) text_pattern_ops);

CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    handle      TEXT NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9_.-]{1,39}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
    user_id        BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    interests      TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(interests) <= 50),
    classes        TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(classes) <= 50),
    about          TEXT NOT NULL DEFAULT '' CHECK (length(about) <= 2000),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What a user consumed: a catalog item, or free text for things outside the catalog.
CREATE TABLE profile_history (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id      BIGINT REFERENCES items (id) ON DELETE CASCADE,
    free_text    TEXT CHECK (free_text IS NULL OR length(btrim(free_text)) BETWEEN 1 AND 500),
    consumed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((item_id IS NULL) <> (free_text IS NULL))
);
CREATE UNIQUE INDEX profile_history_item ON profile_history (user_id, item_id) WHERE item_id IS NOT NULL;
CREATE INDEX profile_history_user ON profile_history (user_id, consumed_at DESC);

-- "Not interested": excluded from later lists.
CREATE TABLE dismissals (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id     BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);

-- One row per list served. The query vector is kept for embedding-drift monitoring.
CREATE TABLE impressions (
    id               UUID PRIMARY KEY,
    user_id          BIGINT REFERENCES users (id) ON DELETE SET NULL,
    context          TEXT NOT NULL CHECK (context IN ('profile', 'similar', 'api')),
    model_id         TEXT NOT NULL,
    query_embedding  vector(384),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX impressions_created ON impressions (created_at);
CREATE INDEX impressions_user ON impressions (user_id);

-- One row per recommended item shown.
CREATE TABLE impression_items (
    impression_id  UUID NOT NULL REFERENCES impressions (id) ON DELETE CASCADE,
    item_id        BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    rank           INT NOT NULL CHECK (rank BETWEEN 1 AND 1000),
    score          REAL NOT NULL CHECK (score BETWEEN -1.0001 AND 1.0001),
    PRIMARY KEY (impression_id, item_id),
    UNIQUE (impression_id, rank)
);
CREATE INDEX impression_items_item ON impression_items (item_id);

-- A click must reference an item that was actually shown in that impression,
-- and counts once: no inflating the interaction rate.
CREATE TABLE clicks (
    id             BIGSERIAL PRIMARY KEY,
    impression_id  UUID NOT NULL,
    item_id        BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (impression_id, item_id) REFERENCES impression_items (impression_id, item_id) ON DELETE CASCADE,
    UNIQUE (impression_id, item_id)
);
CREATE INDEX clicks_created ON clicks (created_at);

-- Browser sessions: end users (by handle) and admins. Only a hash of the token is stored.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    is_admin    BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    CHECK (user_id IS NOT NULL OR is_admin)
);
CREATE INDEX sessions_expires ON sessions (expires_at);
