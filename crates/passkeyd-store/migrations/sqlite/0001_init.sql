-- passkeyd schema, version 1 (SQLite). Times are Unix milliseconds.
CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    prefix        TEXT NOT NULL,
    hash          BLOB NOT NULL UNIQUE,
    name          TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX api_keys_app ON api_keys(app_id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    handle        BLOB NOT NULL,
    username      TEXT,
    display_name  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (app_id, external_id),
    UNIQUE (app_id, handle)
) STRICT;

CREATE TABLE passkeys (
    id                  TEXT PRIMARY KEY,
    app_id              TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name                TEXT,
    generated_name      TEXT NOT NULL,
    credential_id       BLOB NOT NULL,
    public_key          BLOB NOT NULL,
    alg                 INTEGER NOT NULL,
    aaguid              TEXT NOT NULL,
    transports          TEXT NOT NULL,  -- a JSON array of strings
    backup_eligible     INTEGER NOT NULL,
    backup_state        INTEGER NOT NULL,
    user_verified       INTEGER NOT NULL,
    discoverable        INTEGER,
    attachment          TEXT,
    attestation_format  TEXT NOT NULL,
    attestation_type    TEXT NOT NULL,
    sign_count          INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_used_at        INTEGER,
    UNIQUE (app_id, credential_id)
) STRICT;
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE ceremonies (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    user_id     TEXT,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX ceremonies_expiry ON ceremonies(expires_at);
