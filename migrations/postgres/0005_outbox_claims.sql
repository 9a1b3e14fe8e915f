-- A node claims due messages before sending them, so that several nodes on
-- one database send each message once; a claim that expires (its node died)
-- makes the message due again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires_at BIGINT;
