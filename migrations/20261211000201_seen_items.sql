-- "I've seen it": items a user marked as seen, left out of their lists (and
-- recorded as a `consumed` interaction), without becoming a profile element.
CREATE TABLE seen_items (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id     BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);
