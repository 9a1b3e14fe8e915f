-- One invitation per (app, invited account): the sign-up token (stored as a
-- SHA-256 digest) and its deadline. Deleted when used, cancelled or when the
-- app goes away.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    invited_by TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (app_id, account_id)
);
CREATE INDEX invitations_account ON invitations(account_id);

-- Mail about an app names it, so that it reaches only the app's current people
-- and a newer copy can replace one still waiting; HTML is the optional part.
ALTER TABLE outbox ADD COLUMN app_id TEXT;
ALTER TABLE outbox ADD COLUMN body_html TEXT;
CREATE INDEX outbox_app_recipient ON outbox(app_id, recipient, state);
