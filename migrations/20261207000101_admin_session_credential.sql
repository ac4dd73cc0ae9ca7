-- An admin session is bound to the admin credential it was opened with: a hash
-- keyed by the session's own token (engine/src/sessions.rs), so a new password,
-- set or generated, ends every earlier admin session.
ALTER TABLE sessions ADD COLUMN credential_mac TEXT
    CHECK (credential_mac IS NULL OR credential_mac ~ '^[0-9a-f]{64}$');

-- Admin sessions opened before the binding (30 days long, tied to nothing) end now.
DELETE FROM sessions WHERE is_admin;
