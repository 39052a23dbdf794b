-- Billing (SQLite): plans and their per-router profile sync state,
-- customers, subscriptions, payments, the provider callback log, billing
-- settings and daily revenue. Keep in step with ../postgres/0020_billing.sql.
-- Money is BIGINT minor units with a currency column; never a float.

CREATE TABLE plans (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('hotspot', 'pppoe')),
    price_minor    BIGINT NOT NULL CHECK (price_minor >= 0),
    currency       TEXT NOT NULL,
    duration       TEXT NOT NULL,
    duration_s     BIGINT NOT NULL CHECK (duration_s > 0),
    data_cap_bytes BIGINT NOT NULL DEFAULT 0,
    rate_limit     TEXT NOT NULL DEFAULT '',
    shared_users   INTEGER NOT NULL DEFAULT 0,
    grace_s        BIGINT NOT NULL DEFAULT 0,
    active         BOOLEAN NOT NULL DEFAULT 1,
    deleted        BOOLEAN NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX plans_name_key ON plans (tenant_id, name) WHERE deleted = 0;

CREATE TABLE plan_routers (
    plan_id    BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    router_id  TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'failed')),
    message    TEXT NOT NULL DEFAULT '',
    command_id TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plan_id, router_id)
);
CREATE INDEX plan_routers_command_idx ON plan_routers (command_id);
CREATE INDEX plan_routers_router_idx ON plan_routers (router_id);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX customers_phone_key ON customers (tenant_id, phone);

CREATE TABLE subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    status      TEXT NOT NULL CHECK (status IN ('pending_payment', 'active', 'expired', 'suspended', 'cancelled')),
    account_id  BIGINT, -- no foreign key: set once the first payment created it
    username    TEXT NOT NULL DEFAULT '',
    starts_at   TIMESTAMP,
    ends_at     TIMESTAMP,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
-- One subscription per customer and plan: a second purchase renews it.
CREATE UNIQUE INDEX subscriptions_customer_plan_key ON subscriptions (customer_id, plan_id) WHERE status <> 'cancelled';
CREATE INDEX subscriptions_tenant_idx ON subscriptions (tenant_id, status);
CREATE INDEX subscriptions_ends_idx ON subscriptions (ends_at) WHERE status = 'active';

CREATE TABLE payments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    customer_id     BIGINT,
    subscription_id BIGINT,
    plan_id         BIGINT,
    provider        TEXT NOT NULL CHECK (provider IN ('mpesa_stk', 'mpesa_c2b', 'manual', 'webhook')),
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    phone           TEXT NOT NULL DEFAULT '',
    receipt         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'flagged', 'refunded')),
    reason          TEXT NOT NULL DEFAULT '',
    result_code     INTEGER,
    checkout_id     TEXT NOT NULL DEFAULT '',
    merchant_id     TEXT NOT NULL DEFAULT '',
    token_hash      TEXT NOT NULL DEFAULT '', -- sha256 of the callback URL's token; the token itself is never stored
    actor           TEXT NOT NULL DEFAULT '',
    applied         BOOLEAN NOT NULL DEFAULT 0, -- its subscription got its time; set once
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP
);
-- A provider receipt applies at most once per tenant.
CREATE UNIQUE INDEX payments_receipt_key ON payments (tenant_id, receipt) WHERE receipt <> '' AND status IN ('completed', 'refunded');
CREATE UNIQUE INDEX payments_checkout_key ON payments (checkout_id) WHERE checkout_id <> '' AND provider = 'mpesa_stk' AND reason <> 'unknown_checkout';
CREATE INDEX payments_token_idx ON payments (token_hash) WHERE token_hash <> '';
CREATE INDEX payments_tenant_idx ON payments (tenant_id, id);
CREATE INDEX payments_pending_idx ON payments (created_at) WHERE status = 'pending';
-- At most one pending STK push per customer and plan.
CREATE UNIQUE INDEX payments_one_pending_key ON payments (customer_id, plan_id) WHERE status = 'pending' AND provider = 'mpesa_stk';

CREATE TABLE payment_callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL,
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    reference   TEXT NOT NULL DEFAULT '',
    payment_id  BIGINT,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    at          TIMESTAMP NOT NULL
);
CREATE INDEX payment_callbacks_tenant_idx ON payment_callbacks (tenant_id, id);

CREATE TABLE billing_settings (
    tenant_id        BIGINT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    currency         TEXT NOT NULL DEFAULT 'KES',
    timezone         TEXT NOT NULL DEFAULT 'Africa/Nairobi',
    mpesa_shortcode  TEXT NOT NULL DEFAULT '',
    mpesa_tx_type    TEXT NOT NULL DEFAULT 'CustomerPayBillOnline',
    mpesa_party_b    TEXT NOT NULL DEFAULT '',
    mpesa_key        TEXT NOT NULL DEFAULT '', -- sealed (controlplane/seal)
    mpesa_secret     TEXT NOT NULL DEFAULT '', -- sealed
    mpesa_passkey    TEXT NOT NULL DEFAULT '', -- sealed
    confirm_policy   TEXT NOT NULL DEFAULT 'untrusted',
    source_policy    TEXT NOT NULL DEFAULT 'warn',
    allowed_sources  TEXT NOT NULL DEFAULT '', -- comma-separated; '' = Safaricom's documented list
    webhook_secret   TEXT NOT NULL DEFAULT '', -- sealed
    c2b_token        TEXT NOT NULL DEFAULT '', -- random path secret of the C2B URLs
    updated_at       TIMESTAMP NOT NULL
);

-- Completed payments per tenant, currency and local day, added to by each
-- payment in its own transaction, so the figures never need a recount.
CREATE TABLE billing_daily (
    tenant_id     BIGINT NOT NULL,
    day           TEXT NOT NULL, -- YYYY-MM-DD in the tenant's timezone
    currency      TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL DEFAULT 0,
    payments      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, currency)
);
