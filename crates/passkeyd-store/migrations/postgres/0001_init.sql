-- passkeyd schema, version 1 (PostgreSQL). Times are Unix milliseconds.
CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    prefix        TEXT NOT NULL,
    hash          BYTEA NOT NULL UNIQUE,
    name          TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_app ON api_keys(app_id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    -- Byte order, as in SQLite: list_users pages by external_id, and both backends must list
    -- users in the same order whatever the database's locale (whose collation can also change
    -- under the index with an operating system upgrade).
    external_id   TEXT COLLATE "C" NOT NULL,
    handle        BYTEA NOT NULL,
    username      TEXT,
    display_name  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (app_id, external_id),
    UNIQUE (app_id, handle)
);

CREATE TABLE passkeys (
    id                  TEXT PRIMARY KEY,
    app_id              TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name                TEXT,
    generated_name      TEXT NOT NULL,
    credential_id       BYTEA NOT NULL,
    public_key          BYTEA NOT NULL,
    alg                 BIGINT NOT NULL,
    aaguid              TEXT NOT NULL,
    transports          TEXT NOT NULL,  -- a JSON array of strings
    backup_eligible     BOOLEAN NOT NULL,
    backup_state        BOOLEAN NOT NULL,
    user_verified       BOOLEAN NOT NULL,
    discoverable        BOOLEAN,
    attachment          TEXT,
    attestation_format  TEXT NOT NULL,
    attestation_type    TEXT NOT NULL,
    sign_count          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    UNIQUE (app_id, credential_id)
);
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE ceremonies (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    user_id     TEXT,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX ceremonies_expiry ON ceremonies(expires_at);
