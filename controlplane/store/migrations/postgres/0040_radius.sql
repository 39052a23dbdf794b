-- Issue 18 (RADIUS at the edge): a router's authentication mode, the
-- versioned entries its agent's RADIUS answers from, and what the agent
-- last reported holding.
--
-- radius_version is the router's head: every change to an entry takes the
-- next one (UPDATE ... SET radius_version = radius_version + 1 RETURNING,
-- whose row lock serialises concurrent changes on one router). An entry
-- row holds only its identity, version and whether it is a tombstone; the
-- sync page reads the content (password, plan, limits) from accounts,
-- vouchers and plans when it is sent, so no secret is copied here.
ALTER TABLE routers ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'local' CHECK (auth_mode IN ('local', 'radius'));
ALTER TABLE routers ADD COLUMN radius_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routers ADD COLUMN radius_agent_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routers ADD COLUMN radius_agent_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routers ADD COLUMN radius_agent_at TIMESTAMPTZ;

CREATE TABLE radius_entries (
    router_id  TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('hotspot', 'pppoe')),
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    voucher_id BIGINT REFERENCES vouchers (id) ON DELETE SET NULL,
    PRIMARY KEY (router_id, kind, name)
);
CREATE INDEX radius_entries_version_idx ON radius_entries (router_id, version);
CREATE INDEX radius_entries_account_idx ON radius_entries (account_id);
CREATE INDEX radius_entries_voucher_idx ON radius_entries (voucher_id);

-- voucher.used events (a voucher the agent let in offline), recorded in
-- the ingest transaction that applies the event, so each is kept exactly
-- once, and reconciled afterwards (handled_at set) by the RADIUS sync.
CREATE TABLE radius_voucher_uses (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    router_id  TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    mac        TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    used_at    TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    result     TEXT NOT NULL DEFAULT '', -- '' until handled: redeemed, double_use, invalid
    handled_at TIMESTAMPTZ
);
CREATE INDEX radius_voucher_uses_pending_idx ON radius_voucher_uses (handled_at);
