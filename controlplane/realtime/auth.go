package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Authenticator resolves a dashboard user's bearer token. Implemented by the
// control plane's token store.
type Authenticator interface {
	// Authenticate returns the principal a token belongs to. Errors with
	// code EUNAUTHORIZED (unknown, revoked, expired token) answer 401,
	// EUNAVAILABLE 503, anything else 500.
	Authenticate(ctx context.Context, bearer string) (controlplane.Principal, error)
}

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
	switch KindOf(channel) {
	case ChannelPrivate:
		rest = strings.TrimPrefix(channel, prefixPrivate)
	case ChannelPresence:
		rest = strings.TrimPrefix(channel, prefixPresence)
	default:
		return false
	}
	// Compare the exact decimal text: "tenant.01.x" is not tenant 1's.
	want := "tenant." + strconv.FormatInt(p.TenantID, 10) + "."
	return strings.HasPrefix(rest, want) && len(rest) > len(want)
}

// AuthHandler answers pusher-js / Laravel Echo channel authorization
// requests (POST /api/broadcasting/auth): form fields socket_id and
// channel_name, the user's token in "Authorization: Bearer …". It answers
// {"auth": "key:signature"} (plus channel_data for presence and
// shared_secret for encrypted channels), 401 without a valid token, 403 for
// a channel the user may not join.
type AuthHandler struct {
	hub  *Hub
	auth Authenticator
}

// NewAuthHandler returns the authorization endpoint for hub's app.
func NewAuthHandler(hub *Hub, auth Authenticator) *AuthHandler {
	return &AuthHandler{hub: hub, auth: auth}
}

// maxAuthBody bounds the authorization request body.
const maxAuthBody = 8 << 10

// ServeHTTP implements http.Handler.
func (a *AuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := a.hub.metrics
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, controlplane.EINVALID, "use POST")
		return
	}
	token, ok := bearerToken(r)
	if !ok {
		m.authFailures.WithLabelValues("unauthenticated").Inc()
		writeError(w, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "missing bearer token")
		return
	}
	p, err := a.auth.Authenticate(r.Context(), token)
	if err != nil {
		switch controlplane.ErrorCode(err) {
		case controlplane.EUNAUTHORIZED:
			m.authFailures.WithLabelValues("unauthenticated").Inc()
			writeError(w, http.StatusUnauthorized, controlplane.EUNAUTHORIZED, "invalid bearer token")
		case controlplane.EUNAVAILABLE:
			writeError(w, http.StatusServiceUnavailable, controlplane.EUNAVAILABLE, controlplane.ErrorMessage(err))
		default:
			a.hub.log.Error("channel auth: authenticate", "err", err)
			writeError(w, http.StatusInternalServerError, controlplane.EINTERNAL, "internal error")
		}
		return
	}
	socketID, channel, err := authRequestFields(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, controlplane.EINVALID, err.Error())
		return
	}
	if !ValidSocketID(socketID) {
		writeError(w, http.StatusBadRequest, controlplane.EINVALID, "socket_id must look like 123.456")
		return
	}
	if !ValidChannelName(channel) {
		writeError(w, http.StatusBadRequest, controlplane.EINVALID, "invalid channel_name")
		return
	}
	kind := KindOf(channel)
	if !kind.needsAuth() {
		writeError(w, http.StatusBadRequest, controlplane.EINVALID, "public channels need no authorization")
		return
	}
	if !CanSubscribe(p, channel) {
		m.authFailures.WithLabelValues("forbidden").Inc()
		writeError(w, http.StatusForbidden, controlplane.EFORBIDDEN, "you may not subscribe to "+channel)
		return
	}
	opts := &a.hub.opts
	resp := struct {
		Auth         string `json:"auth"`
		ChannelData  string `json:"channel_data,omitempty"`
		SharedSecret string `json:"shared_secret,omitempty"`
	}{}
	switch kind {
	case ChannelPresence:
		resp.ChannelData = string(mustMarshal(presenceMember(p)))
	case ChannelPrivateEncrypted:
		if len(opts.EncryptionMasterKey) == 0 {
			writeError(w, http.StatusForbidden, controlplane.EFORBIDDEN, "encrypted channels are not enabled on this server")
			return
		}
		resp.SharedSecret = EncryptedChannelSecret(channel, opts.EncryptionMasterKey)
	}
	resp.Auth = SignChannel(opts.Key, opts.Secret, socketID, channel, resp.ChannelData)
	writeJSON(w, http.StatusOK, resp)
}

// presenceMember is what other members of a presence channel learn about a
// user: the id, the display name and the masked email.
func presenceMember(p controlplane.Principal) any {
	type info struct {
		Name  string `json:"name,omitempty"`
		Email string `json:"email,omitempty"`
		Role  string `json:"role,omitempty"`
	}
	return struct {
		UserID   string `json:"user_id"`
		UserInfo info   `json:"user_info"`
	}{strconv.FormatInt(p.UserID, 10), info{Name: p.Name, Email: MaskEmail(p.Email), Role: string(p.Role)}}
}

// bearerToken extracts the token of "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// authRequestFields reads socket_id and channel_name from a form body (what
// pusher-js sends) or a JSON body.
func authRequestFields(w http.ResponseWriter, r *http.Request) (socketID, channel string, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			SocketID    string `json:"socket_id"`
			ChannelName string `json:"channel_name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return "", "", errors.New("body is not valid JSON")
		}
		socketID, channel = body.SocketID, body.ChannelName
	} else {
		if err := r.ParseForm(); err != nil {
			return "", "", errors.New("body is not a valid form")
		}
		socketID, channel = r.PostForm.Get("socket_id"), r.PostForm.Get("channel_name")
	}
	if socketID == "" || channel == "" {
		return "", "", errors.New("socket_id and channel_name are required")
	}
	return socketID, channel, nil
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(mustMarshal(v))
}

// writeError answers with the control plane's error body
// {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error body `json:"error"`
	}{body{code, message}})
}
