-- passkeyd schema, version 3 (PostgreSQL): admin sign-in, the audit log and webhooks. Times are
-- Unix milliseconds. Admins and their passkeys are the users and passkeys of the internal app
-- `__admin` (see the server's admin module); only what that app cannot hold lives here.
-- Version 2 belongs to another change; the runner applies every missing version in order.

-- A one-time link that lets a new admin register a passkey. Only the token's SHA-256 is kept.
CREATE TABLE admin_invites (
    id          TEXT PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    admin_id    TEXT NOT NULL,
    name        TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- A signed-in admin. Only the cookie token's SHA-256 is kept; the CSRF token is useless without
-- the cookie, so it is kept as it is.
CREATE TABLE admin_sessions (
    token_hash    BYTEA PRIMARY KEY,
    admin_id      TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);

-- Append-only record of what happened. No foreign keys: entries outlive the apps, users and
-- passkeys they mention.
CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    at          BIGINT NOT NULL,
    app_id      TEXT,
    event       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    error_code  TEXT,
    user_id     TEXT,
    passkey_id  TEXT,
    actor       TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(at, id);
CREATE INDEX audit_log_app_time ON audit_log(app_id, at);

CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    events       TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_app ON webhook_endpoints(app_id);

-- One event to deliver to one endpoint. `seq` orders an endpoint's deliveries.
CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    app_id           TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, seq);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
