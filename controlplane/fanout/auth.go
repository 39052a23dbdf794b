package fanout

import (
	"context"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// SystemAdminChannel is the channel only system admins may join.
const SystemAdminChannel = "private-system-admin"

// CanSubscribe reports whether p may subscribe to channel: system admins to
// every channel, other users only to private-tenant.{their tenant}.* and
// presence-tenant.{their tenant}.* channels and their cache variants
// (private-cache-tenant.{t}.*, presence-cache-tenant.{t}.*).
func CanSubscribe(p controlplane.Principal, channel string) bool {
	if p.IsSystemAdmin() {
		return true
	}
	if !p.Role.Valid() || p.TenantID <= 0 {
		return false
	}
	var rest string
	switch pusher.KindOf(channel) {
	case pusher.ChannelPrivate:
		rest = strings.TrimPrefix(channel, "private-")
	case pusher.ChannelPresence:
		rest = strings.TrimPrefix(channel, "presence-")
	default:
		return false
	}
	// A cache channel of a tenant's is the tenant's too.
	rest = strings.TrimPrefix(rest, "cache-")
	// Compare the exact decimal text: "tenant.01.x" is not tenant 1's.
	want := "tenant." + strconv.FormatInt(p.TenantID, 10) + "."
	return strings.HasPrefix(rest, want) && len(rest) > len(want)
}

// Authenticator resolves a dashboard user's bearer token. Implemented by the
// control plane's token store.
type Authenticator interface {
	// Authenticate returns the principal a token belongs to. Errors with
	// code EUNAUTHORIZED (unknown, revoked, expired token) answer 401,
	// EUNAVAILABLE 503, others by controlplane.HTTPStatus.
	Authenticate(ctx context.Context, bearer string) (controlplane.Principal, error)
}

// ChannelAuth adapts a token store to the Pusher channel authorization
// endpoint (pusher.Hub.Mount) with SitePulse's channel policy: CanSubscribe
// decides, and presence members show their name, masked email and role.
func ChannelAuth(a Authenticator) pusher.Authenticator { return channelAuth{a} }

type channelAuth struct{ a Authenticator }

func (c channelAuth) Authenticate(ctx context.Context, bearer string) (pusher.User, error) {
	p, err := c.a.Authenticate(ctx, bearer)
	if err != nil {
		return nil, err
	}
	return principalUser{p}, nil
}

// principalUser is a control-plane principal as channel authorization sees
// it.
type principalUser struct{ p controlplane.Principal }

func (u principalUser) CanSubscribe(channel string) bool { return CanSubscribe(u.p, channel) }

// userInfo is what others learn about a dashboard user: the display name,
// the masked email and the role.
type userInfo struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Role  string `json:"role,omitempty"`
}

func (u principalUser) info() userInfo {
	return userInfo{Name: u.p.Name, Email: MaskEmail(u.p.Email), Role: string(u.p.Role)}
}

// PresenceMember is what other members of a presence channel learn about a
// user: the id and userInfo.
func (u principalUser) PresenceMember() pusher.Member {
	return pusher.Member{UserID: strconv.FormatInt(u.p.UserID, 10), UserInfo: u.info()}
}

// SigninData is the user a dashboard connection signs in as (pusher-js
// signin, POST /api/broadcasting/user-auth): the SitePulse user id, so
// that Hub.SendToUser(id) and terminate_connections reach every dashboard
// the user has open.
func (u principalUser) SigninData() pusher.UserData {
	return pusher.UserData{ID: strconv.FormatInt(u.p.UserID, 10), UserInfo: u.info()}
}
