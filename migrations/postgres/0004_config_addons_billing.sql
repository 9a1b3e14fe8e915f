-- Config vars: one row per variable. Values are secrets to the app; the store
-- is the only place they live besides the releases that snapshot them.
CREATE TABLE config_vars (
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);

-- How many dynos of each process type should run, and their size.
CREATE TABLE formation (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    size TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (app_id, type)
);

-- Add-ons attached to apps. The plan's price is copied at provisioning so
-- that an edited catalog never changes what a running add-on costs.
CREATE TABLE addons (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    plan TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX addons_app ON addons(app_id);

-- Who pays for a paid add-on, from when to when. Invoices are computed from
-- these rows; they outlive the add-on and the app on purpose.
CREATE TABLE addon_usage (
    id TEXT PRIMARY KEY,
    addon_id TEXT NOT NULL,
    addon_name TEXT NOT NULL,
    app_id TEXT NOT NULL,
    app_name TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    service TEXT NOT NULL,
    plan TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX addon_usage_account ON addon_usage(account_id, started_at);
CREATE INDEX addon_usage_addon ON addon_usage(addon_id, ended_at);

-- Ownership transfers, pending until the recipient answers.
CREATE TABLE app_transfers (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES accounts(id),
    recipient_id TEXT NOT NULL REFERENCES accounts(id),
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX app_transfers_app ON app_transfers(app_id, state);
CREATE INDEX app_transfers_recipient ON app_transfers(recipient_id);
