-- passkeyd schema, version 2 (PostgreSQL): browser sessions and the keys that sign their JWTs.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    BYTEA NOT NULL UNIQUE,
    passkey_id    TEXT,
    created_at    BIGINT NOT NULL,
    refreshed_at  BIGINT NOT NULL,
    verified_at   BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    user_agent    TEXT,
    client_ip     TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Private keys are kept as PKCS#8: they must be usable to sign, so they cannot be hashed.
CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);
CREATE INDEX signing_keys_app ON signing_keys(app_id);
