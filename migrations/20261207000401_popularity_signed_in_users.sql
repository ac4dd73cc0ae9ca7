-- Popularity counts distinct signed-in users only: an anonymous click loop made
-- one "user" per click (an item went from rank 24 to rank 1 in other users' lists).
-- Recount what existing installations hold under the new rule.
DELETE FROM item_popularity;
INSERT INTO item_popularity (item_id, users)
SELECT item_id, count(DISTINCT user_id)
FROM (
    SELECT h.item_id, h.user_id FROM profile_history h WHERE h.item_id IS NOT NULL
    UNION ALL
    SELECT c.item_id, im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
    WHERE im.user_id IS NOT NULL
) s
GROUP BY item_id;
