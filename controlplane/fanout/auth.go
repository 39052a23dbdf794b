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
// presence-tenant.{their tenant}.* channels.
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

// PresenceMember is what other members of a presence channel learn about a
// user: the id, the display name and the masked email.
func (u principalUser) PresenceMember() pusher.Member {
	type info struct {
		Name  string `json:"name,omitempty"`
		Email string `json:"email,omitempty"`
		Role  string `json:"role,omitempty"`
	}
	p := u.p
	return pusher.Member{UserID: strconv.FormatInt(p.UserID, 10), UserInfo: info{Name: p.Name, Email: MaskEmail(p.Email), Role: string(p.Role)}}
}
