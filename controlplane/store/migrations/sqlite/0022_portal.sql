-- Issue 14: each tenant's captive portal settings. The slug is NULL for
-- a tenant without one, so that UNIQUE holds only among chosen slugs.
CREATE TABLE portal_settings (
    tenant_id     BIGINT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    slug          TEXT UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    logo_url      TEXT NOT NULL DEFAULT '',
    primary_color TEXT NOT NULL DEFAULT '',
    accent_color  TEXT NOT NULL DEFAULT '',
    support_phone TEXT NOT NULL DEFAULT '',
    terms         TEXT NOT NULL DEFAULT '',
    plan_ids      TEXT NOT NULL DEFAULT '', -- comma-separated plan ids in order; '' = every active hotspot plan
    updated_at    TIMESTAMP NOT NULL
);
