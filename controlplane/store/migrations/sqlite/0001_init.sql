-- SitePulse control plane, initial schema (SQLite).
-- Keep in step with ../postgres/0001_init.sql: same tables, columns, and
-- constraints. Times are INTEGER Unix microseconds in columns declared
-- TIMESTAMP (the driver converts them to time.Time); counters are 64-bit
-- integers holding the wire's uint64 bit for bit. River creates its own
-- tables.

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active')),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER REFERENCES tenants (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('system_admin', 'tenant_admin', 'technician', 'viewer')),
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    -- System admins belong to no tenant; everybody else to exactly one.
    CHECK ((role = 'system_admin') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE, -- hex SHA-256 of the plaintext
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE routers (
    id               TEXT PRIMARY KEY, -- MQTT client id and username of its agent
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    site             TEXT NOT NULL DEFAULT '',
    secret_hash      TEXT NOT NULL DEFAULT '', -- hex SHA-256 of the agent secret; '' when revoked
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'online', 'offline', 'revoked')),
    router_connected BOOLEAN NOT NULL DEFAULT 0,
    identity         TEXT NOT NULL DEFAULT '',
    routeros_version TEXT NOT NULL DEFAULT '',
    agent_version    TEXT NOT NULL DEFAULT '',
    board            TEXT NOT NULL DEFAULT '',
    resources        TEXT, -- JSON of protocol.Resources
    last_seq         INTEGER NOT NULL DEFAULT 0, -- newest applied event seq
    last_status_at   TIMESTAMP, -- ts of the newest applied status message
    last_seen_at     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX routers_tenant_idx ON routers (tenant_id);

-- Live sessions, one row per router and stable session key.
CREATE TABLE sessions (
    router_id      TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    session_key    TEXT NOT NULL,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('hotspot', 'pppoe')),
    ros_id         TEXT NOT NULL DEFAULT '',
    username       TEXT NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    mac            TEXT NOT NULL DEFAULT '',
    service        TEXT NOT NULL DEFAULT '',
    login_by       TEXT NOT NULL DEFAULT '',
    ppp_session_id TEXT NOT NULL DEFAULT '',
    started_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    bytes_in       INTEGER NOT NULL DEFAULT 0,
    bytes_out      INTEGER NOT NULL DEFAULT 0,
    packets_in     INTEGER NOT NULL DEFAULT 0,
    packets_out    INTEGER NOT NULL DEFAULT 0,
    snapshot_id    TEXT NOT NULL DEFAULT '', -- the last snapshot that listed it
    PRIMARY KEY (router_id, session_key)
);
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, started_at);

-- Ended sessions. No foreign keys: history outlives routers and tenants
-- until retention prunes it.
CREATE TABLE session_history (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      INTEGER NOT NULL,
    router_id      TEXT NOT NULL,
    session_key    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    ros_id         TEXT NOT NULL DEFAULT '',
    username       TEXT NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    mac            TEXT NOT NULL DEFAULT '',
    service        TEXT NOT NULL DEFAULT '',
    login_by       TEXT NOT NULL DEFAULT '',
    ppp_session_id TEXT NOT NULL DEFAULT '',
    started_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    ended_at       TIMESTAMP NOT NULL,
    end_reason     TEXT NOT NULL,
    bytes_in       INTEGER NOT NULL DEFAULT 0,
    bytes_out      INTEGER NOT NULL DEFAULT 0,
    packets_in     INTEGER NOT NULL DEFAULT 0,
    packets_out    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX session_history_tenant_ended_idx ON session_history (tenant_id, ended_at);
CREATE INDEX session_history_ended_idx ON session_history (ended_at);
CREATE INDEX session_history_router_idx ON session_history (router_id, session_key);
CREATE INDEX session_history_user_idx ON session_history (tenant_id, username);

-- Who changed what. No foreign keys: entries outlive their actors and
-- tenants. tenant_id NULL is system-wide, actor_id NULL the system itself.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER,
    actor_id  INTEGER,
    actor     TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    result    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '',
    at        TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
