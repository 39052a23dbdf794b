package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Authenticator resolves the bearer token of a channel authorization
// request. The control plane adapts its token store to it with its channel
// policy (controlplane/fanout.ChannelAuth).
type Authenticator interface {
	// Authenticate returns the user a token belongs to. The error's code
	// picks the answer through controlplane.HTTPStatus: EUNAUTHORIZED
	// (unknown, revoked, expired token) answers 401, EUNAVAILABLE 503,
	// an error without a code 500.
	Authenticate(ctx context.Context, bearer string) (User, error)
}

// User is an authenticated user as channel authorization sees them.
type User interface {
	// CanSubscribe reports whether the user may subscribe to channel, a
	// private-, presence- or private-encrypted- channel.
	CanSubscribe(channel string) bool
	// PresenceMember is what the other members of a presence channel
	// learn about the user.
	PresenceMember() Member
}

// Member is a presence channel member as channel_data carries it.
type Member struct {
	UserID   string `json:"user_id"`
	UserInfo any    `json:"user_info,omitempty"`
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
		writeErrorStatus(w, http.StatusMethodNotAllowed, controlplane.EINVALID, "use POST")
		return
	}
	token, ok := bearerToken(r)
	if !ok {
		m.authFailures.WithLabelValues("unauthenticated").Inc()
		writeError(w, controlplane.Errorf(controlplane.EUNAUTHORIZED, "missing bearer token"))
		return
	}
	user, err := a.auth.Authenticate(r.Context(), token)
	if err != nil {
		switch controlplane.ErrorCode(err) {
		case controlplane.EUNAUTHORIZED:
			m.authFailures.WithLabelValues("unauthenticated").Inc()
			err = controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid bearer token")
		case controlplane.EINTERNAL:
			a.hub.log.Error("channel auth: authenticate", "err", err)
		}
		writeError(w, err)
		return
	}
	socketID, channel, err := authRequestFields(w, r)
	if err != nil {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "%v", err))
		return
	}
	if !ValidSocketID(socketID) {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "socket_id must look like 123.456"))
		return
	}
	if !ValidChannelName(channel) {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "invalid channel_name"))
		return
	}
	kind := KindOf(channel)
	if !kind.needsAuth() {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "public channels need no authorization"))
		return
	}
	if !user.CanSubscribe(channel) {
		m.authFailures.WithLabelValues("forbidden").Inc()
		writeError(w, controlplane.Errorf(controlplane.EFORBIDDEN, "you may not subscribe to %s", channel))
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
		resp.ChannelData = string(mustMarshal(user.PresenceMember()))
	case ChannelPrivateEncrypted:
		if len(opts.EncryptionMasterKey) == 0 {
			writeError(w, controlplane.Errorf(controlplane.EFORBIDDEN, "encrypted channels are not enabled on this server"))
			return
		}
		resp.SharedSecret = EncryptedChannelSecret(channel, opts.EncryptionMasterKey)
	}
	resp.Auth = SignChannel(opts.Key, opts.Secret, socketID, channel, resp.ChannelData)
	writeJSON(w, http.StatusOK, resp)
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

// writeError answers err with the control plane's error body
// {"error":{"code","message"}} and the status controlplane.HTTPStatus gives
// its code: the one table every HTTP endpoint of the control plane answers
// by.
func writeError(w http.ResponseWriter, err error) {
	code := controlplane.ErrorCode(err)
	writeErrorStatus(w, controlplane.HTTPStatus(code), code, controlplane.ErrorMessage(err))
}

// writeErrorStatus answers with the error body and a status of the
// caller's: for answers about HTTP itself (405) that no error code stands
// for.
func writeErrorStatus(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error body `json:"error"`
	}{body{code, message}})
}
