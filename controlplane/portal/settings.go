package portal

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Settings returns tenant's portal settings (tenantID 0: p's own tenant).
// EFORBIDDEN unless p is the tenant's admin or a system admin.
func (p *Portal) Settings(ctx context.Context, pr controlplane.Principal, tenantID int64) (controlplane.PortalSettings, error) {
	t, err := settingsTenant(pr, tenantID)
	if err != nil {
		return controlplane.PortalSettings{}, err
	}
	if _, err := p.o.Store.GetTenant(ctx, 0, t); err != nil {
		return controlplane.PortalSettings{}, err
	}
	return p.o.Store.PortalSettings(ctx, t)
}

// UpdateSettings changes a tenant's portal settings. EFORBIDDEN unless p
// is the tenant's admin or a system admin; EINVALID naming the field;
// ECONFLICT for a slug another tenant has.
func (p *Portal) UpdateSettings(ctx context.Context, pr controlplane.Principal, patch controlplane.PortalSettingsPatch) (controlplane.PortalSettings, error) {
	t, err := settingsTenant(pr, patch.TenantID)
	if err != nil {
		return controlplane.PortalSettings{}, err
	}
	if _, err := p.o.Store.GetTenant(ctx, 0, t); err != nil {
		return controlplane.PortalSettings{}, err
	}
	cur, err := p.o.Store.PortalSettings(ctx, t)
	if err != nil {
		return cur, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&cur.Slug, patch.Slug)
	cur.Slug = strings.ToLower(cur.Slug)
	set(&cur.Name, patch.Name)
	set(&cur.LogoURL, patch.LogoURL)
	set(&cur.PrimaryColor, patch.PrimaryColor)
	set(&cur.AccentColor, patch.AccentColor)
	set(&cur.SupportPhone, patch.SupportPhone)
	if patch.Terms != nil {
		cur.Terms = *patch.Terms
	}
	if patch.PlanIDs != nil {
		cur.PlanIDs = append([]int64{}, *patch.PlanIDs...)
	}
	if err := validateSettings(cur); err != nil {
		return cur, err
	}
	if patch.PlanIDs != nil && len(cur.PlanIDs) > 0 {
		plans, _, err := p.o.Billing.ListPlans(ctx, t, controlplane.PlanFilter{})
		if err != nil {
			return cur, err
		}
		known := map[int64]bool{}
		for _, pl := range plans {
			known[pl.ID] = pl.Kind == controlplane.PlanHotspot
		}
		for _, id := range cur.PlanIDs {
			if !known[id] {
				return cur, controlplane.Errorf(controlplane.EINVALID, "plan_ids: %d is not a hotspot plan of this tenant", id)
			}
		}
	}
	cur.TenantID = t
	return p.o.Store.PutPortalSettings(ctx, cur)
}

func settingsTenant(pr controlplane.Principal, tenantID int64) (int64, error) {
	switch {
	case pr.IsSystemAdmin():
		if tenantID <= 0 {
			return 0, controlplane.Errorf(controlplane.EINVALID, "tenant_id is required for system admins")
		}
		return tenantID, nil
	case pr.Role == controlplane.RoleTenantAdmin && pr.TenantID > 0:
		if tenantID != 0 && tenantID != pr.TenantID {
			return 0, controlplane.Errorf(controlplane.ENOTFOUND, "tenant %d not found", tenantID)
		}
		return pr.TenantID, nil
	}
	return 0, controlplane.Errorf(controlplane.EFORBIDDEN, "only tenant admins manage the portal")
}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)
	colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	// dataLogoRE is the data: URI form a logo may take: a base64 image.
	dataLogoRE = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$`)
	phoneRE    = regexp.MustCompile(`^\+?[0-9 ()-]{3,24}$`)
)

// reservedSlugs are /portal/{x} paths the portal serves itself.
var reservedSlugs = map[string]bool{"auth": true, "static": true, "assets": true, "api": true}

// validSlug reports whether s is a slug a tenant may choose.
func validSlug(s string) bool {
	return slugRE.MatchString(s) && !reservedSlugs[s] && strings.Trim(s, "0123456789") != ""
}

// Limits of the settings.
const (
	maxLogoBytes  = 32 << 10
	maxTermsBytes = 4 << 10
	maxNameRunes  = 60
)

func validateSettings(s controlplane.PortalSettings) error {
	bad := func(field, format string, args ...any) error {
		return controlplane.Errorf(controlplane.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
	}
	if s.Slug != "" && !validSlug(s.Slug) {
		return bad("slug", "use 1 to 40 lower-case letters, digits and dashes, not starting or ending with a dash (not all digits, and not auth or static)")
	}
	if utf8.RuneCountInString(s.Name) > maxNameRunes || !utf8.ValidString(s.Name) {
		return bad("name", "at most %d characters", maxNameRunes)
	}
	if s.LogoURL != "" && !validLogo(s.LogoURL) {
		return bad("logo_url", "an https URL or a base64 data:image URI of at most 32 KiB")
	}
	for _, c := range []struct{ field, v string }{{"primary_color", s.PrimaryColor}, {"accent_color", s.AccentColor}} {
		if c.v != "" && !colorRE.MatchString(c.v) {
			return bad(c.field, "a colour as #rrggbb")
		}
	}
	if s.SupportPhone != "" && !phoneRE.MatchString(s.SupportPhone) {
		return bad("support_phone", "a phone number")
	}
	if len(s.Terms) > maxTermsBytes || !utf8.ValidString(s.Terms) {
		return bad("terms", "plain text of at most 4 KiB")
	}
	if len(s.PlanIDs) > 50 {
		return bad("plan_ids", "at most 50 plans")
	}
	seen := map[int64]bool{}
	for _, id := range s.PlanIDs {
		if id <= 0 || seen[id] {
			return bad("plan_ids", "positive plan ids, each once")
		}
		seen[id] = true
	}
	return nil
}

func validLogo(s string) bool {
	if len(s) > maxLogoBytes {
		return false
	}
	if strings.HasPrefix(s, "data:") {
		return dataLogoRE.MatchString(s)
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}
