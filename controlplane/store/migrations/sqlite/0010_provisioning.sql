-- Provisioning (SQLite): commands, managed accounts with their per-router
-- sync state, and hourly stats roll-ups. Keep in step with
-- ../postgres/0010_provisioning.sql.

-- One command to one router. seq orders delivery; id is the random wire id
-- the agent records.
CREATE TABLE commands (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    router_id   TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}', -- JSON of controlplane.CommandParams; passwords removed once final
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'running', 'succeeded', 'failed', 'expired', 'cancelled')),
    bulk_id     TEXT NOT NULL DEFAULT '',
    account_id  INTEGER, -- no foreign key: the command outlives a deleted account
    actor_id    INTEGER,
    actor       TEXT NOT NULL DEFAULT '',
    code        TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    ret         TEXT NOT NULL DEFAULT '',
    result_rows TEXT, -- JSON rows of a raw print
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX commands_router_status_idx ON commands (router_id, status, seq);
CREATE INDEX commands_tenant_idx ON commands (tenant_id, seq);
CREATE INDEX commands_bulk_idx ON commands (bulk_id, seq) WHERE bulk_id <> '';
CREATE INDEX commands_pending_expiry_idx ON commands (expires_at) WHERE status IN ('queued', 'sent');

-- Hotspot users and PPP secrets the tenant manages. The password is kept
-- because routers added later need it; it is never returned or broadcast.
CREATE TABLE accounts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('hotspot', 'ppp')),
    name              TEXT NOT NULL,
    password          TEXT NOT NULL DEFAULT '',
    profile           TEXT NOT NULL DEFAULT '',
    service           TEXT NOT NULL DEFAULT '',
    limit_uptime      TEXT NOT NULL DEFAULT '',
    limit_bytes_total INTEGER NOT NULL DEFAULT 0,
    expires_at        TIMESTAMP,
    disabled          BOOLEAN NOT NULL DEFAULT 0,
    expired           BOOLEAN NOT NULL DEFAULT 0,
    phone             TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL DEFAULT '',
    comment           TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX accounts_name_key ON accounts (tenant_id, kind, name);
CREATE INDEX accounts_expiry_idx ON accounts (expires_at) WHERE expired = 0;

-- An account's sync state on each router it is provisioned to.
CREATE TABLE account_routers (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    router_id  TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'failed')),
    message    TEXT NOT NULL DEFAULT '',
    command_id TEXT NOT NULL DEFAULT '', -- the command whose outcome decides state
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, router_id)
);
CREATE INDEX account_routers_command_idx ON account_routers (command_id);
CREATE INDEX account_routers_router_idx ON account_routers (router_id);

-- Ended sessions per tenant and hour, rolled up from session_history so
-- that reports survive its retention.
CREATE TABLE stats_hourly (
    tenant_id        INTEGER NOT NULL,
    hour             TIMESTAMP NOT NULL,
    sessions         INTEGER NOT NULL DEFAULT 0,
    hotspot_sessions INTEGER NOT NULL DEFAULT 0,
    pppoe_sessions   INTEGER NOT NULL DEFAULT 0,
    users            INTEGER NOT NULL DEFAULT 0, -- distinct user names
    bytes_in         INTEGER NOT NULL DEFAULT 0,
    bytes_out        INTEGER NOT NULL DEFAULT 0,
    seconds          INTEGER NOT NULL DEFAULT 0, -- summed session durations
    PRIMARY KEY (tenant_id, hour)
);
