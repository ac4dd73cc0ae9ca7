-- "Not interested in": free-text lines of a profile, used as negative elements
-- (items near them lose score). Bounded like interests.
ALTER TABLE profiles
    ADD COLUMN not_interested TEXT[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(not_interested) <= 50);

