package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

const portalSettingsColumns = `tenant_id, slug, name, logo_url, primary_color, accent_color, support_phone, terms, plan_ids, updated_at`

func scanPortalSettings(sc interface{ Scan(...any) error }) (controlplane.PortalSettings, error) {
	var p controlplane.PortalSettings
	var slug sql.NullString
	var plans string
	if err := sc.Scan(&p.TenantID, &slug, &p.Name, &p.LogoURL, &p.PrimaryColor, &p.AccentColor, &p.SupportPhone, &p.Terms,
		&plans, &p.UpdatedAt); err != nil {
		return p, err
	}
	p.Slug = slug.String
	p.PlanIDs = []int64{}
	for _, s := range strings.Split(plans, ",") {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			p.PlanIDs = append(p.PlanIDs, id)
		}
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// PortalSettings returns the tenant's portal settings; a tenant that saved
// none gets zero branding (TenantID set, no slug, every plan), which the
// portal fills with its defaults.
func (s *Store) PortalSettings(ctx context.Context, tenantID int64) (controlplane.PortalSettings, error) {
	p, err := read(ctx, s, func(t *dbtx) (controlplane.PortalSettings, error) {
		return scanPortalSettings(t.queryRow(ctx, `SELECT `+portalSettingsColumns+` FROM portal_settings WHERE tenant_id = $1`, tenantID))
	})
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.PortalSettings{TenantID: tenantID, PlanIDs: []int64{}}, nil
	}
	return p, err
}

// PortalSettingsBySlug returns the settings of the tenant whose portal is
// /portal/{slug}. ENOTFOUND otherwise.
func (s *Store) PortalSettingsBySlug(ctx context.Context, slug string) (controlplane.PortalSettings, error) {
	p, err := read(ctx, s, func(t *dbtx) (controlplane.PortalSettings, error) {
		return scanPortalSettings(t.queryRow(ctx, `SELECT `+portalSettingsColumns+` FROM portal_settings WHERE slug = $1`, slug))
	})
	return p, noRows(err, "portal", slug)
}

// PutPortalSettings stores p (already validated) and returns it as stored.
// ECONFLICT when another tenant has the slug; ENOTFOUND for an unknown
// tenant.
func (s *Store) PutPortalSettings(ctx context.Context, p controlplane.PortalSettings) (controlplane.PortalSettings, error) {
	var out controlplane.PortalSettings
	err := s.Write(ctx, func(tx *Tx) error {
		var slug any
		if p.Slug != "" {
			slug = p.Slug
		}
		ids := make([]string, len(p.PlanIDs))
		for i, id := range p.PlanIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		_, err := tx.t.exec(ctx, `INSERT INTO portal_settings (`+portalSettingsColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id) DO UPDATE SET slug = $2, name = $3, logo_url = $4, primary_color = $5,
			accent_color = $6, support_phone = $7, terms = $8, plan_ids = $9, updated_at = $10`,
			p.TenantID, slug, p.Name, p.LogoURL, p.PrimaryColor, p.AccentColor, p.SupportPhone, p.Terms,
			strings.Join(ids, ","), tx.t.now)
		switch {
		case isForeignKeyViolation(err):
			return notFound("tenant", p.TenantID)
		case isUniqueViolation(err):
			return controlplane.Errorf(controlplane.ECONFLICT, "portal address %q is taken", p.Slug)
		case err != nil:
			return err
		}
		out, err = scanPortalSettings(tx.t.queryRow(ctx, `SELECT `+portalSettingsColumns+` FROM portal_settings WHERE tenant_id = $1`, p.TenantID))
		return err
	})
	return out, err
}
