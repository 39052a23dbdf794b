-- Issue 15 (auth-tracking): each dashboard user's last login, failed
-- login counters per account and per client address with their lockout,
-- and hotspot/PPPoE session starts rolled up per router, hour and service.
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN last_login_ip TEXT NOT NULL DEFAULT '';

-- key is 'user:<id>' or 'ip:<address>'. failures counts within the window
-- that began at window_start; locked_until is set when they reach the limit.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);

CREATE TABLE login_series (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    router_id TEXT NOT NULL,
    hour      TIMESTAMPTZ NOT NULL,
    service   TEXT NOT NULL,
    logins    BIGINT NOT NULL,
    PRIMARY KEY (router_id, hour, service)
);
CREATE INDEX login_series_tenant_hour ON login_series (tenant_id, hour);
