package pusher

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// SigninUser is a User that may sign in (pusher-js signin): its user data
// names it. Users that do not implement it (a portal purchase token) are
// refused user authentication with 403.
type SigninUser interface {
	User
	// SigninData is the user_data the connection signs in with; its ID
	// must pass ValidUserID.
	SigninData() UserData
}

// UserAuthHandler answers pusher-js / Laravel Echo user authentication
// requests (POST /api/broadcasting/user-auth, Echo's
// userAuthentication.endpoint): form field socket_id, the user's token in
// "Authorization: Bearer …". It answers {"auth": "key:signature",
// "user_data": "{…}"} for pusher:signin, 401 without a valid token, 403 for
// a user that cannot sign in.
type UserAuthHandler struct {
	hub  *Hub
	auth Authenticator
}

// NewUserAuthHandler returns the user authentication endpoint of hub's app.
func NewUserAuthHandler(hub *Hub, auth Authenticator) *UserAuthHandler {
	return &UserAuthHandler{hub: hub, auth: auth}
}

// ServeHTTP implements http.Handler.
func (a *UserAuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			a.hub.log.Error("user auth: authenticate", "err", err)
		}
		writeError(w, err)
		return
	}
	socketID, err := userAuthSocketID(w, r)
	if err != nil {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "%v", err))
		return
	}
	if !ValidSocketID(socketID) {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "socket_id must look like 123.456"))
		return
	}
	su, ok := user.(SigninUser)
	if !ok {
		m.authFailures.WithLabelValues("forbidden").Inc()
		writeError(w, controlplane.Errorf(controlplane.EFORBIDDEN, "this token cannot sign in"))
		return
	}
	ud := su.SigninData()
	if !ValidUserID(ud.ID) {
		a.hub.log.Error("user auth: user has an invalid id", "len", len(ud.ID))
		writeError(w, controlplane.Errorf(controlplane.EINTERNAL, "user has no valid id"))
		return
	}
	userData := string(mustMarshal(ud))
	opts := &a.hub.opts
	writeJSON(w, http.StatusOK, struct {
		Auth     string `json:"auth"`
		UserData string `json:"user_data"`
	}{SignUser(opts.Key, opts.Secret, socketID, userData), userData})
}

// userAuthSocketID reads socket_id from a form body (what pusher-js sends)
// or a JSON body.
func userAuthSocketID(w http.ResponseWriter, r *http.Request) (string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var socketID string
	if ct == "application/json" {
		var body struct {
			SocketID string `json:"socket_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return "", errors.New("body is not valid JSON")
		}
		socketID = body.SocketID
	} else {
		if err := r.ParseForm(); err != nil {
			return "", errors.New("body is not a valid form")
		}
		socketID = r.PostForm.Get("socket_id")
	}
	if socketID == "" {
		return "", errors.New("socket_id is required")
	}
	return socketID, nil
}
