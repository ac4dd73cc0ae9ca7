-- Item popularity for the popularity prior of the recommend path: how many distinct
-- users have the item in their saved history or clicked it (anonymous clicks count
-- one each). Kept up to date by the engine when a profile is saved or a click is
-- recorded, so ranking reads one row per candidate instead of counting events.

CREATE TABLE item_popularity (
    item_id  BIGINT PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    users    INT NOT NULL DEFAULT 0 CHECK (users >= 0)
);
-- max(users) normalises the prior: an index answers it without a scan.
CREATE INDEX item_popularity_users ON item_popularity (users);

-- Recounting one item must not scan whole tables.
CREATE INDEX profile_history_item_id ON profile_history (item_id) WHERE item_id IS NOT NULL;
CREATE INDEX clicks_item ON clicks (item_id);

-- Existing installations start with the counts of what they already hold.
INSERT INTO item_popularity (item_id, users)
SELECT item_id, count(DISTINCT user_id) + count(*) FILTER (WHERE user_id IS NULL)
FROM (
    SELECT h.item_id, h.user_id FROM profile_history h WHERE h.item_id IS NOT NULL
    UNION ALL
    SELECT c.item_id, im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
) s
GROUP BY item_id;
