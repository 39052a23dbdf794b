-- Issue 15: the notification outbox, each tenant's notification settings
-- and the router outages the offline alerts track. Keep in step with
-- ../sqlite/0030_notifications.sql.

-- One row per message to one recipient over one channel, written in the
-- transaction of its cause; (tenant, event, recipient, channel) is unique
-- so a retried cause or job never queues a second copy. data_sealed holds
-- the template data sealed (it may carry a customer's password).
CREATE TABLE notifications (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   BIGINT NOT NULL, -- 0: the system's
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'telegram')),
    recipient   TEXT NOT NULL,
    language    TEXT NOT NULL,
    event       TEXT NOT NULL,
    data_sealed TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped', 'unknown')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    provider_id TEXT NOT NULL DEFAULT '',
    resends     INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX notifications_once_key ON notifications (tenant_id, event, recipient, channel);
CREATE INDEX notifications_tenant_idx ON notifications (tenant_id, id);
CREATE INDEX notifications_provider_idx ON notifications (channel, provider_id) WHERE provider_id <> '';

CREATE TABLE notification_settings (
    tenant_id              BIGINT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    language               TEXT NOT NULL DEFAULT 'en',
    disabled               TEXT NOT NULL DEFAULT '', -- comma-separated kinds
    reminder_offsets       TEXT NOT NULL DEFAULT '86400,3600', -- seconds, comma-separated
    router_offline_after   BIGINT NOT NULL DEFAULT 300,
    router_recovered_after BIGINT NOT NULL DEFAULT 60,
    smtp_sealed            TEXT NOT NULL DEFAULT '',
    mail_from              TEXT NOT NULL DEFAULT '',
    sms_username           TEXT NOT NULL DEFAULT '',
    sms_key_sealed         TEXT NOT NULL DEFAULT '',
    sms_sender_id          TEXT NOT NULL DEFAULT '',
    telegram_sealed        TEXT NOT NULL DEFAULT '',
    telegram_chats         TEXT NOT NULL DEFAULT '', -- comma-separated chat ids
    updated_at             TIMESTAMPTZ NOT NULL
);

-- A router that is down (agent gone or router unreachable) while the
-- offline alerts watch it; the row goes when the router has been back for
-- the tenant's recovery hold. alerted_at is set once per outage.
CREATE TABLE router_outages (
    router_id  TEXT PRIMARY KEY REFERENCES routers (id) ON DELETE CASCADE,
    tenant_id  BIGINT NOT NULL,
    down_since TIMESTAMPTZ NOT NULL,
    alerted_at TIMESTAMPTZ,
    up_since   TIMESTAMPTZ
);

-- The reminders sent for a subscription period (its end) and offset.
CREATE TABLE subscription_reminders (
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    ends_at         TIMESTAMPTZ NOT NULL,
    offset_s        BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, ends_at, offset_s)
);
