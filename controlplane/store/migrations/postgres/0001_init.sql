-- SitePulse control plane, initial schema (PostgreSQL).
-- Keep in step with ../sqlite/0001_init.sql: same tables, columns, and
-- constraints. Times are TIMESTAMPTZ (microseconds); counters are BIGINT
-- holding the wire's uint64 bit for bit. River creates its own tables.

CREATE TABLE tenants (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('system_admin', 'tenant_admin', 'technician', 'viewer')),
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    -- System admins belong to no tenant; everybody else to exactly one.
    CHECK ((role = 'system_admin') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE, -- hex SHA-256 of the plaintext
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE routers (
    id               TEXT PRIMARY KEY, -- MQTT client id and username of its agent
    tenant_id        BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    site             TEXT NOT NULL DEFAULT '',
    secret_hash      TEXT NOT NULL DEFAULT '', -- hex SHA-256 of the agent secret; '' when revoked
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'online', 'offline', 'revoked')),
    router_connected BOOLEAN NOT NULL DEFAULT FALSE,
    identity         TEXT NOT NULL DEFAULT '',
    routeros_version TEXT NOT NULL DEFAULT '',
    agent_version    TEXT NOT NULL DEFAULT '',
    board            TEXT NOT NULL DEFAULT '',
    resources        JSONB, -- JSON of protocol.Resources
    last_seq         BIGINT NOT NULL DEFAULT 0, -- newest applied event seq
    last_status_at   TIMESTAMPTZ, -- ts of the newest applied status message
    last_seen_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX routers_tenant_idx ON routers (tenant_id);

-- Live sessions, one row per router and stable session key.
CREATE TABLE sessions (
    router_id      TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    session_key    TEXT NOT NULL,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('hotspot', 'pppoe')),
    ros_id         TEXT NOT NULL DEFAULT '',
    username       TEXT NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    mac            TEXT NOT NULL DEFAULT '',
    service        TEXT NOT NULL DEFAULT '',
    login_by       TEXT NOT NULL DEFAULT '',
    ppp_session_id TEXT NOT NULL DEFAULT '',
    started_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    bytes_in       BIGINT NOT NULL DEFAULT 0,
    bytes_out      BIGINT NOT NULL DEFAULT 0,
    packets_in     BIGINT NOT NULL DEFAULT 0,
    packets_out    BIGINT NOT NULL DEFAULT 0,
    snapshot_id    TEXT NOT NULL DEFAULT '', -- the last snapshot that listed it
    PRIMARY KEY (router_id, session_key)
);
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, started_at);

-- Ended sessions. No foreign keys: history outlives routers and tenants
-- until retention prunes it.
CREATE TABLE session_history (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      BIGINT NOT NULL,
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
    started_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ NOT NULL,
    end_reason     TEXT NOT NULL,
    bytes_in       BIGINT NOT NULL DEFAULT 0,
    bytes_out      BIGINT NOT NULL DEFAULT 0,
    packets_in     BIGINT NOT NULL DEFAULT 0,
    packets_out    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX session_history_tenant_ended_idx ON session_history (tenant_id, ended_at);
CREATE INDEX session_history_ended_idx ON session_history (ended_at);
CREATE INDEX session_history_router_idx ON session_history (router_id, session_key);
CREATE INDEX session_history_user_idx ON session_history (tenant_id, username);

-- Who changed what. No foreign keys: entries outlive their actors and
-- tenants. tenant_id NULL is system-wide, actor_id NULL the system itself.
CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT,
    actor_id  BIGINT,
    actor     TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    result    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '',
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
