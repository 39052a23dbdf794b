-- Vouchers (sqlite): prepaid codes for a plan, generated in batches and
-- redeemed on use (the account is made then). Keep in step with
-- ../postgres/0021_vouchers.sql. Money is BIGINT minor units with a
-- currency column; never a float.

CREATE TABLE voucher_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    voucher_count INTEGER NOT NULL CHECK (voucher_count > 0),
    prefix      TEXT NOT NULL DEFAULT '',
    code_length INTEGER NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL,
    expires_at  TIMESTAMP,
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX voucher_batches_tenant_idx ON voucher_batches (tenant_id, id);

CREATE TABLE vouchers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    batch_id    BIGINT NOT NULL REFERENCES voucher_batches (id) ON DELETE CASCADE,
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    code        TEXT NOT NULL, -- upper case, no separators: what NormalizeVoucherCode returns
    status      TEXT NOT NULL CHECK (status IN ('unused', 'active', 'used', 'expired', 'revoked')),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL,
    expires_at  TIMESTAMP,
    redeemed_at TIMESTAMP,
    ends_at     TIMESTAMP,
    account_id  BIGINT, -- no foreign key: made at redemption
    router_id   TEXT NOT NULL DEFAULT '',
    redeemed_by TEXT NOT NULL DEFAULT '', -- the device's MAC
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
-- A code names one voucher of its tenant: generation retries on a clash.
CREATE UNIQUE INDEX vouchers_code_key ON vouchers (tenant_id, code);
CREATE INDEX vouchers_batch_idx ON vouchers (batch_id, status);
CREATE INDEX vouchers_tenant_idx ON vouchers (tenant_id, id);
CREATE INDEX vouchers_ends_idx ON vouchers (ends_at) WHERE status = 'active';
CREATE INDEX vouchers_expires_idx ON vouchers (expires_at) WHERE status = 'unused';
