-- Slugs: the built form of one pushed commit, stored as a tar.gz under the
-- data dir (`slugs/<app id>/<slug id>.tgz`).
CREATE TABLE slugs (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    commit_sha TEXT NOT NULL,
    process_types TEXT NOT NULL,
    buildpack TEXT,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX slugs_app ON slugs(app_id);

-- Releases: numbered per app, each naming the slug it runs (a config change
-- makes a release that keeps the slug of the one before).
CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    slug_id TEXT,
    description TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (app_id, version)
);
