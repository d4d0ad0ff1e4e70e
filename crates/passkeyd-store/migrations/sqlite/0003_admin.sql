-- passkeyd schema, version 3 (SQLite): admin sign-in, the audit log and webhooks. Times are Unix
-- milliseconds. Admins and their passkeys are the users and passkeys of the internal app
-- `__admin` (see the server's admin module); only what that app cannot hold lives here.
-- Version 2 belongs to another change; the runner applies every missing version in order.

-- A one-time link that lets a new admin register a passkey. Only the token's SHA-256 is kept.
CREATE TABLE admin_invites (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    admin_id    TEXT NOT NULL,           -- the external id the new admin gets in `__admin`
    name        TEXT,
    created_by  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;

-- A signed-in admin. Only the cookie token's SHA-256 is kept; the CSRF token is not a bearer
-- credential on its own (it is useless without the cookie), so it is kept as it is.
CREATE TABLE admin_sessions (
    token_hash    BLOB PRIMARY KEY,
    admin_id      TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);

-- Append-only record of what happened. No foreign keys: entries outlive the apps, users and
-- passkeys they mention.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    app_id      TEXT,
    event       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    error_code  TEXT,
    user_id     TEXT,                    -- the app's external id of the user
    passkey_id  TEXT,
    actor       TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    detail      TEXT NOT NULL            -- a JSON object
) STRICT;
CREATE INDEX audit_log_time ON audit_log(at, id);
CREATE INDEX audit_log_app_time ON audit_log(app_id, at);

CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,          -- needed in clear to sign deliveries
    events       TEXT NOT NULL,          -- a JSON array of event types
    enabled      INTEGER NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_app ON webhook_endpoints(app_id);

-- One event to deliver to one endpoint. `seq` orders an endpoint's deliveries.
CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    app_id           TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,      -- pending, succeeded, failed
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, seq);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
