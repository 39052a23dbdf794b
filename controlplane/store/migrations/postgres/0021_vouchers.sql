-- Vouchers (postgres): prepaid codes for a plan, generated in batches and
-- redeemed on use (the account is made then). Keep in step with
-- ../sqlite/0021_vouchers.sql. Money is BIGINT minor units with a
-- currency column; never a float.

CREATE TABLE voucher_batches (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    voucher_count INTEGER NOT NULL CHECK (voucher_count > 0),
    prefix      TEXT NOT NULL DEFAULT '',
    code_length INTEGER NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL,
    expires_at  TIMESTAMPTZ,
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX voucher_batches_tenant_idx ON voucher_batches (tenant_id, id);

CREATE TABLE vouchers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    batch_id    BIGINT NOT NULL REFERENCES voucher_batches (id) ON DELETE CASCADE,
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    code        TEXT NOT NULL, -- upper case, no separators: what NormalizeVoucherCode returns
    status      TEXT NOT NULL CHECK (status IN ('unused', 'active', 'used', 'expired', 'revoked')),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL,
    expires_at  TIMESTAMPTZ,
    redeemed_at TIMESTAMPTZ,
    ends_at     TIMESTAMPTZ,
    account_id  BIGINT, -- no foreign key: made at redemption
    router_id   TEXT NOT NULL DEFAULT '',
    redeemed_by TEXT NOT NULL DEFAULT '', -- the device's MAC
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
-- A code names one voucher of its tenant: generation retries on a clash.
CREATE UNIQUE INDEX vouchers_code_key ON vouchers (tenant_id, code);
CREATE INDEX vouchers_batch_idx ON vouchers (batch_id, status);
CREATE INDEX vouchers_tenant_idx ON vouchers (tenant_id, id);
CREATE INDEX vouchers_ends_idx ON vouchers (ends_at) WHERE status = 'active';
CREATE INDEX vouchers_expires_idx ON vouchers (expires_at) WHERE status = 'unused';
