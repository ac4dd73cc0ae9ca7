-- Lists a user can come back to (Back after opening an item, a reload): which
-- request a served list answered (a hash of the user's profile, dismissals,
-- filters and page) and what its cards said, so the same list (the same
-- impression, the same order) is shown again for 30 minutes instead of a new one.
ALTER TABLE impressions
    ADD COLUMN list_key TEXT CHECK (list_key ~ '^[0-9a-f]{64}$'),
    ADD COLUMN list_notes JSONB;
CREATE INDEX impressions_resume ON impressions (user_id, list_key, created_at DESC)
    WHERE list_key IS NOT NULL;
